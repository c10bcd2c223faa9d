// Pixelate: square blocks; the high band makes them finer.
// @param size 1 128 12   block size, pixels
// @param react 0 1 0     how much the high band shrinks the blocks
// @bypass size 1
uniform sampler2D u_input;
uniform float size;
uniform float react;

void main() {
    float s = max(1.0, size * (1.0 - 0.8 * react * u_high));
    vec2 cell = (floor(v_uv * u_resolution / s) + 0.5) * s / u_resolution;
    frag_color = texture(u_input, cell);
}
