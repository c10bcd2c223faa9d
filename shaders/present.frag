// Draws an image into a window (or half of it) of any size, letterboxed (keeps the aspect).
uniform sampler2D u_input;
uniform vec2 u_src_size;   // the image's size, pixels
uniform float u_flip;      // 1: the image's rows are top-first (uploaded pixels), 0: drawn by GL
void main() {
    float out_aspect = u_resolution.x / u_resolution.y;
    float src_aspect = u_src_size.x / u_src_size.y;
    vec2 uv = v_uv - 0.5;
    if (out_aspect > src_aspect) uv.x *= out_aspect / src_aspect; else uv.y *= src_aspect / out_aspect;
    uv += 0.5;
    bool inside = all(greaterThanEqual(uv, vec2(0.0))) && all(lessThanEqual(uv, vec2(1.0)));
    if (u_flip > 0.5) uv.y = 1.0 - uv.y;
    frag_color = inside ? texture(u_input, uv) : vec4(0.0, 0.0, 0.0, 1.0);
}
