// Blur / glow: a 9-tap blur; glow adds the blur of what is bright on top of the image.
// @param radius    0 32 6    blur radius, pixels
// @param glow      0 2  0.8  0: plain blur, more: bright parts bloom over the sharp image
// @param threshold 0 1  0.6  how bright a pixel must be to glow
// @bypass radius 0
// @bypass glow 0
uniform float radius;
uniform float glow;
uniform float threshold;

vec4 effect(vec2 uv) {
    vec2 px = radius / u_resolution;
    vec4 c = fetch(uv);
    vec3 sum = vec3(0.0);
    vec3 bright = vec3(0.0);
    for (int i = -1; i <= 1; i++) {
        for (int j = -1; j <= 1; j++) {
            vec3 s = fetch(uv + vec2(i, j) * px).rgb;
            sum += s;
            bright += max(s - threshold, 0.0);
        }
    }
    sum /= 9.0;
    bright /= 9.0;
    vec3 rgb = glow > 0.0 ? c.rgb + glow * bright / max(1.0 - threshold, 0.05) : sum;
    return vec4(clamp(rgb, 0.0, 1.0), c.a);
}
