// No effect: the input as it is.
vec4 effect(vec2 uv) { return fetch(uv); }
