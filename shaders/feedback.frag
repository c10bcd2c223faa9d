// The compositor's first stage: the generated frame over the transformed previous output.
// (A stage, not an effect: its parameters are feedback.* and are declared in Python.)

uniform sampler2D u_gen;       // the newest generated frame (rows top-first, as torch made them)
uniform sampler2D u_prev;      // the previous program output
uniform vec2  u_gen_size;      // generated frame size, pixels
uniform float u_amount;        // 0: only the new frame, 1: only the feedback
uniform float u_zoom;          // feedback scale per frame (1: none, >1 zooms in)
uniform float u_rotate;        // feedback rotation per frame, degrees

void main() {
    // Cover the output with the generated frame (crop, keep its aspect), flipped to GL's y-up.
    float out_aspect = u_resolution.x / u_resolution.y;
    float gen_aspect = u_gen_size.x / u_gen_size.y;
    vec2 uv = v_uv - 0.5;
    if (out_aspect > gen_aspect) uv.y *= gen_aspect / out_aspect; else uv.x *= out_aspect / gen_aspect;
    vec3 gen = texture(u_gen, vec2(uv.x + 0.5, 0.5 - uv.y)).rgb;

    vec2 p = (v_uv - 0.5) * vec2(out_aspect, 1.0);
    p = rotate2(p, radians(u_rotate)) / u_zoom;
    vec2 fb_uv = p / vec2(out_aspect, 1.0) + 0.5;
    vec3 prev = texture(u_prev, fb_uv).rgb;

    frag_color = vec4(mix(gen, prev, u_amount), 1.0);
}
