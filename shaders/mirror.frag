// Mirror: folds the image onto itself, left onto right (and/or top onto bottom).
// @param horizontal 0 1 1   1: the left half is mirrored onto the right
// @param vertical   0 1 0   1: the bottom half is mirrored onto the top
// @param amount     0 1 1   0: the input as it is
uniform sampler2D u_input;
uniform float horizontal;
uniform float vertical;
uniform float amount;

void main() {
    vec2 uv = v_uv;
    if (horizontal >= 0.5) uv.x = 0.5 - abs(uv.x - 0.5);
    if (vertical >= 0.5) uv.y = 0.5 - abs(uv.y - 0.5);
    frag_color = mix(texture(u_input, v_uv), texture(u_input, uv), amount);
}
