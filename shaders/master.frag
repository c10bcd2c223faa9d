// The master fader: the program image at `u_fader` for the outputs (0: black), dissolving from
// the image held at a scene change (`u_held_mix` of it: 1 at the change, 0 when the new scene is
// whole). Drawn only while the fader is down or a dissolve runs; feedback reads the image before
// it, so a fade to black keeps the trails and the held image never feeds back.
uniform sampler2D u_input;
uniform sampler2D u_held;
uniform float u_fader;
uniform float u_held_mix;
void main() {
    vec3 live = texture(u_input, v_uv).rgb;
    vec3 held = texture(u_held, v_uv).rgb;
    frag_color = vec4(mix(live, held, u_held_mix) * u_fader, 1.0);
}
