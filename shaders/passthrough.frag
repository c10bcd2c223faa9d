// No effect: the input as it is.
uniform sampler2D u_input;
void main() { frag_color = texture(u_input, v_uv); }
