// Draws the program output into a window of any size, letterboxed (keeps the aspect).
uniform sampler2D u_input;
uniform vec2 u_src_size;   // program size, pixels
void main() {
    float out_aspect = u_resolution.x / u_resolution.y;
    float src_aspect = u_src_size.x / u_src_size.y;
    vec2 uv = v_uv - 0.5;
    if (out_aspect > src_aspect) uv.x *= out_aspect / src_aspect; else uv.y *= src_aspect / out_aspect;
    uv += 0.5;
    bool inside = all(greaterThanEqual(uv, vec2(0.0))) && all(lessThanEqual(uv, vec2(1.0)));
    frag_color = inside ? texture(u_input, uv) : vec4(0.0, 0.0, 0.0, 1.0);
}
