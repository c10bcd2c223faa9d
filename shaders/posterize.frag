// Posterize: a few levels per channel.
// @param levels 2 32 6   levels per channel
// @param amount 0 1  1   0: the input as it is
// @bypass amount 0
uniform float levels;
uniform float amount;

vec4 effect(vec2 uv) {
    vec4 c = fetch(uv);
    float n = max(floor(levels), 2.0) - 1.0;
    vec3 p = floor(c.rgb * n + 0.5) / n;
    return vec4(mix(c.rgb, p, amount), c.a);
}
