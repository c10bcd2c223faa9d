// Colour: hue rotation, saturation, contrast and brightness.
// @param hue        -180 180 0  degrees around the colour wheel
// @param saturation 0    3   1  0: grey, 1: as it is
// @param contrast   0    3   1  around mid grey
// @param brightness -1   1   0  added
// @bypass hue 0
// @bypass saturation 1
// @bypass contrast 1
// @bypass brightness 0
uniform float hue;
uniform float saturation;
uniform float contrast;
uniform float brightness;

vec4 effect(vec2 uv) {
    vec4 c = fetch(uv);
    // hue: rotate about the grey axis (Rodrigues), saturation: away from luma
    float a = radians(hue);
    vec3 k = vec3(0.57735);
    vec3 rgb = c.rgb * cos(a) + cross(k, c.rgb) * sin(a) + k * dot(k, c.rgb) * (1.0 - cos(a));
    float luma = dot(rgb, vec3(0.2126, 0.7152, 0.0722));
    rgb = mix(vec3(luma), rgb, saturation);
    rgb = (rgb - 0.5) * contrast + 0.5 + brightness;
    return vec4(clamp(rgb, 0.0, 1.0), c.a);
}
