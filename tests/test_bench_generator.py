"""`vj bench generator` runs both sides and reports what the issue asks for (figures: BENCHMARKS.md)."""

import json

from helpers import vj


def test_bench_generator_prints_both_sides_and_their_ratio():
    r = vj("bench", "generator", "--model", "tiny-random", "--size", "128x128", "--frames", "2", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    for key in ("ours_fps", "plain_fps", "ratio", "device"):
        assert key in out
    assert out["ours_fps"] > 0 and out["plain_fps"] > 0
    assert abs(out["ratio"] - out["ours_fps"] / out["plain_fps"]) < 0.01
    assert out["ours"]["frames"] == out["plain"]["frames"] == 2 and out["size"] == "128x128" and out["steps"] == 1
    text = vj("bench", "generator", "--model", "tiny-random", "--size", "128x128", "--frames", "1", "--full-vae")
    assert text.returncode == 0 and "ratio:" in text.stdout and "full VAE" in text.stdout


def test_bench_generator_image_to_image_runs_both_sides():
    r = vj("bench", "generator", "--model", "tiny-random", "--size", "128x128", "--frames", "2", "--img2img", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["mode"] == "img2img" and out["ours_fps"] > 0 and out["plain_fps"] > 0
    assert out["ours"]["frames"] == out["plain"]["frames"] == 2


def test_bench_generator_plays_the_gan_against_its_plain_network():
    r = vj("bench", "generator", "--model", "dcgan-faces", "--frames", "4", "--threads", "1", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["size"] == "64x64" and out["threads"] == 1 and out["tiny_vae"] is False
    assert out["ours_fps"] > 0 and out["plain_fps"] > 0 and out["ours"]["frames"] == 4


def test_bench_generator_runs_a_swapped_scheduler_with_guidance_on_both_sides():
    r = vj("bench", "generator", "--model", "tiny-random", "--size", "128x128", "--frames", "2", "--steps", "4",
           "--scheduler", "pndm", "--guidance", "7", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["scheduler"] == "PNDMScheduler" and out["guidance"] == 7 and out["steps"] == 4
    assert out["ours_fps"] > 0 and out["plain_fps"] > 0
    text = vj("bench", "generator", "--model", "tiny-random", "--size", "128x128", "--frames", "1", "--steps", "2",
              "--scheduler", "lcm", "--guidance", "3")
    assert text.returncode == 0 and "LCMScheduler, guidance 3" in text.stdout
