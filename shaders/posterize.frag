// Posterize: a few levels per channel.
// @param levels 2 32 6   levels per channel
// @param amount 0 1  1   0: the input as it is
// @bypass amount 0
uniform sampler2D u_input;
uniform float levels;
uniform float amount;

void main() {
    vec4 c = texture(u_input, v_uv);
    float n = max(floor(levels), 2.0) - 1.0;
    vec3 p = floor(c.rgb * n + 0.5) / n;
    frag_color = vec4(mix(c.rgb, p, amount), c.a);
}
