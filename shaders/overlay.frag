// The operator's status box (internal: drawn over the preview window, never into the program image).
uniform sampler2D u_input;   // the box, RGBA, rows top-first
uniform vec4 u_box;          // x, y (from the top left), width, height, pixels
void main() {
    vec2 px = vec2(gl_FragCoord.x, u_resolution.y - gl_FragCoord.y) - u_box.xy;
    if (any(lessThan(px, vec2(0.0))) || any(greaterThanEqual(px, u_box.zw))) discard;
    frag_color = texture(u_input, px / u_box.zw);
}
