// Kaleidoscope: folds the image into mirrored segments around the centre; the bass turns it.
// @param sides  2   24  6    mirrored segments
// @param spin  -4    4  0.25 turns per minute, plus a push from the bass
// @param zoom  0.25  4  1    scale of the source inside each segment
// @param amount 0    1  1    0: the input as it is, 1: only the kaleidoscope (between: the folds open)
// @bypass amount 0
uniform float sides;
uniform float spin;
uniform float zoom;
uniform float amount;

vec4 effect(vec2 uv) {
    float aspect = u_resolution.x / u_resolution.y;
    // turned before the fold, not by adding to the angle: the fold below is even in the angle, so
    // atan's jump from pi to -pi leaves no seam even when `sides` is between two whole numbers
    vec2 p = rotate2((uv - 0.5) * vec2(aspect, 1.0), 2.0 * PI * (spin * u_time / 60.0) + u_bass * 0.35);
    float r = length(p);
    float a = atan(p.y, p.x);
    float seg = 2.0 * PI / max(sides, 1.0);
    a = mod(a, seg);
    a = min(a, seg - a);  // mirror every other half-segment: no seams between segments
    vec2 q = vec2(cos(a), sin(a)) * r / zoom / vec2(aspect, 1.0) + 0.5;
    q = abs(mod(q + 1.0, 2.0) - 1.0);  // mirror-repeat outside the frame
    return fetch(mix(uv, q, amount));  // one fetch: the amount moves the place, not a second image
}
