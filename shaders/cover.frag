// Internal: a layer's source covered into a frame-sized image (crop to the aspect, rows flipped for
// top-first images), before the layer's own effects.
uniform sampler2D u_input;
uniform mat2 u_m;
uniform vec2 u_o;
void main() { frag_color = texture(u_input, u_m * v_uv + u_o); }
