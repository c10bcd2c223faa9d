// RGB split: red and blue are pulled apart along an angle; the bass pulse pushes them further.
// @param offset 0   0.05 0.006  distance, in fractions of the width
// @param angle  -180 180 0      direction, degrees
// @param punch  0   4    1      how much a bass hit adds
// @bypass offset 0
uniform sampler2D u_input;
uniform float offset;
uniform float angle;
uniform float punch;

void main() {
    float a = radians(angle);
    vec2 d = vec2(cos(a), sin(a) * u_resolution.x / u_resolution.y) * offset * (1.0 + punch * u_bass_pulse);
    vec4 c = texture(u_input, v_uv);
    frag_color = vec4(texture(u_input, v_uv + d).r, c.g, texture(u_input, v_uv - d).b, c.a);
}
