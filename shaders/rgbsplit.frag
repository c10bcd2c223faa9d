// RGB split: red and blue are pulled apart along an angle; the bass pulse pushes them further.
// @param offset 0   0.05 0.006  distance, in fractions of the width
// @param angle  -180 180 0      direction, degrees
// @param punch  0   4    1      how much a bass hit adds
// @bypass offset 0
uniform float offset;
uniform float angle;
uniform float punch;

vec4 effect(vec2 uv) {
    float a = radians(angle);
    vec2 d = vec2(cos(a), sin(a) * u_resolution.x / u_resolution.y) * offset * (1.0 + punch * u_bass_pulse);
    vec4 c = fetch(uv);
    return vec4(fetch(uv + d).r, c.g, fetch(uv - d).b, c.a);
}
