// The master fader: the program image at `u_fader` for the outputs (0: black). Drawn only while
// the fader is down; feedback reads the image before it, so a fade to black keeps the trails.
uniform sampler2D u_input;
uniform float u_fader;
void main() {
    frag_color = vec4(texture(u_input, v_uv).rgb * u_fader, 1.0);
}
