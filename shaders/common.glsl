// Prepended by the loader to every fragment shader in this folder (do not add #version yourself).
// Coordinates: v_uv runs 0..1 with the origin at the bottom left (OpenGL / Shadertoy convention).
#version 330

in vec2 v_uv;
out vec4 frag_color;

uniform vec2  u_resolution;  // output size, pixels
uniform float u_time;        // show time, seconds (frame-exact in `vj render`)
uniform float u_frame;       // render frame number
uniform float u_level;       // audio loudness, 0..1 (automatic gain)
uniform float u_bass;        // audio band levels, 0..1
uniform float u_mid;
uniform float u_high;
uniform float u_bass_pulse;  // 1 on a hit in the band, decaying
uniform float u_mid_pulse;
uniform float u_high_pulse;
uniform float u_bass_time;   // integrators: run faster while the band is loud (seconds)
uniform float u_mid_time;
uniform float u_high_time;
uniform float u_centroid;    // brightness of the sound, 0..1
uniform float u_beat_phase;  // 0..1, 0 on the beat
uniform float u_bar_phase;   // 0..1 over a 4/4 bar
uniform float u_bpm;         // 0 until a tempo is found
uniform sampler2D u_spectrum;  // 64 x 1, red channel: log-frequency bands 30 Hz..16 kHz, 0..1

const float PI = 3.14159265358979;

vec2 rotate2(vec2 p, float a) {
    float c = cos(a), s = sin(a);
    return vec2(c * p.x - s * p.y, s * p.x + c * p.y);
}
