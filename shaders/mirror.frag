// Mirror: folds the image onto itself along a line that sweeps in from the edge: at amount 1 the
// left half is mirrored onto the right (and/or the bottom onto the top).
// @param horizontal 0 1 1   1: fold left onto right
// @param vertical   0 1 0   1: fold bottom onto top
// @param amount     0 1 1   where the fold line is: 0 at the edge (the input as it is), 1 at the centre
// @bypass amount 0
uniform float horizontal;
uniform float vertical;
uniform float amount;

vec4 effect(vec2 uv) {
    float line = 1.0 - 0.5 * amount;  // past the line, the image comes back the way it went
    if (horizontal >= 0.5 && uv.x > line) uv.x = 2.0 * line - uv.x;
    if (vertical >= 0.5 && uv.y > line) uv.y = 2.0 * line - uv.y;
    return fetch(uv);
}
