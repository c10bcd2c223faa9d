// Plasma: a source, not an effect (use it as a layer: source = "shader:plasma"); the bass swells it.
// @param speed  0  4  0.6  how fast it flows
// @param scale  1 20  6    how many waves across the frame
// @param swell  0  2  0.5  how much the bass pushes it
uniform float speed;
uniform float scale;
uniform float swell;

vec4 effect(vec2 uv) {
    float aspect = u_resolution.x / u_resolution.y;
    vec2 p = (uv - 0.5) * vec2(aspect, 1.0) * scale * (1.0 + swell * u_bass);
    float t = u_time * speed;
    float v = sin(p.x + t) + sin(p.y * 1.3 - t * 0.7) + sin(length(p) * 1.7 + t * 1.1);
    return vec4(0.5 + 0.5 * cos(v * 1.6 + vec3(0.0, 2.1, 4.2)), 1.0);
}
