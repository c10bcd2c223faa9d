// Mirror: folds the image onto itself, left onto right (and/or top onto bottom).
// @param horizontal 0 1 1   1: the left half is mirrored onto the right
// @param vertical   0 1 0   1: the bottom half is mirrored onto the top
// @param amount     0 1 1   0: the input as it is
// @bypass amount 0
uniform sampler2D u_input;
uniform float horizontal;
uniform float vertical;
uniform float amount;

void main() {
    vec2 uv = v_uv;
    if (horizontal >= 0.5) uv.x = 0.5 - abs(uv.x - 0.5);
    if (vertical >= 0.5) uv.y = 0.5 - abs(uv.y - 0.5);
    vec4 wet = texture(u_input, uv);
    frag_color = amount >= 1.0 ? wet : mix(texture(u_input, v_uv), wet, amount);  // one fetch at full
}
