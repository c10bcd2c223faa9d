// Pixelate: square blocks; the high band makes them finer.
// @param size 1 128 12   block size, pixels
// @param react 0 1 0     how much the high band shrinks the blocks
// @bypass size 1
uniform float size;
uniform float react;

vec4 effect(vec2 uv) {
    float s = max(1.0, size * (1.0 - 0.8 * react * u_high));
    return fetch((floor(uv * u_resolution / s) + 0.5) * s / u_resolution);
}
