// Strobe: a flash on the beat that fades over the beat; or inverts instead of whitening.
// @param amount  0 1 0.6   strength of the flash
// @param decay   1 40 10   how fast it fades (higher: shorter)
// @param invert  0 1 0     1: the flash inverts the image instead of whitening it
// @bypass amount 0
uniform float amount;
uniform float decay;
uniform float invert;

vec4 effect(vec2 uv) {
    vec4 c = fetch(uv);
    float f = amount * exp(-decay * u_beat_phase) * step(0.0, u_bpm - 1.0);
    vec3 flash = invert >= 0.5 ? 1.0 - c.rgb : vec3(1.0);
    return vec4(mix(c.rgb, flash, f), c.a);
}
