// Kaleidoscope: folds the image into mirrored segments around the centre; the bass turns it.
// @param sides  2   24  6    mirrored segments
// @param spin  -4    4  0.25 turns per minute, plus a push from the bass
// @param zoom  0.25  4  1    scale of the source inside each segment
// @param amount 0    1  1    0: the input as it is, 1: only the kaleidoscope
// @bypass amount 0
uniform sampler2D u_input;
uniform float sides;
uniform float spin;
uniform float zoom;
uniform float amount;

void main() {
    float aspect = u_resolution.x / u_resolution.y;
    vec2 p = (v_uv - 0.5) * vec2(aspect, 1.0);
    float r = length(p);
    float a = atan(p.y, p.x) + 2.0 * PI * (spin * u_time / 60.0) + u_bass * 0.35;
    float seg = 2.0 * PI / max(sides, 1.0);
    a = mod(a, seg);
    a = min(a, seg - a);  // mirror every other half-segment: no seams
    vec2 q = vec2(cos(a), sin(a)) * r / zoom;
    vec2 uv = q / vec2(aspect, 1.0) + 0.5;
    uv = abs(mod(uv + 1.0, 2.0) - 1.0);  // mirror-repeat outside the frame
    vec4 k = texture(u_input, uv);
    frag_color = amount >= 1.0 ? k : mix(texture(u_input, v_uv), k, amount);  // one fetch at full
}
