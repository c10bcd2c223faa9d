// Displacement by the audio spectrum: each row is pushed sideways by the band at its height
// (bass at the bottom, highs at the top); a slow wave keeps it moving in silence.
// @param amount 0 0.2 0.04  largest push, in fractions of the width
// @param wave   0 1   0.2   the slow wave's share
// @bypass amount 0
uniform float amount;
uniform float wave;

vec4 effect(vec2 uv) {
    float band = texture(u_spectrum, vec2(uv.y, 0.5)).r;
    float w = sin(uv.y * 12.0 + u_time * 1.3);
    float dx = amount * ((1.0 - wave) * (band - 0.25) + wave * w);
    return fetch(vec2(uv.x + dx, uv.y));
}
