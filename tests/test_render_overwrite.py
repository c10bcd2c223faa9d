"""`vj render` never writes over a file without a word, as live recordings never do: the render goes
beside it (next free name, said in a line), or over it with --overwrite (said too)."""

from helpers import probe, vj


def _render(out, *more):
    r = vj("render", "demo", "--model", "seedling", "--audio", "none", "--duration", "0.5", "--size", "160x96",
           "--seed", "3", "--state", "none", "--out", str(out), *more, timeout=300)
    assert r.returncode == 0, r.stderr
    return r


def test_a_render_goes_beside_a_file_that_is_there_unless_told_to_overwrite(tmp_path):
    out = tmp_path / "night.mp4"
    out.write_bytes(b"a file the performer keeps")
    r = _render(out)
    beside = tmp_path / "night-2.mp4"
    assert f"{out} exists: rendering to {beside} beside it (--overwrite writes over it)" in r.stderr
    assert out.read_bytes() == b"a file the performer keeps" and f"wrote {beside}" in r.stderr
    assert probe(beside)["streams"][0]["width"] == 160
    r = _render(out)  # and again: the next free name
    assert f"rendering to {tmp_path / 'night-3.mp4'} beside it" in r.stderr
    r = _render(out, "--overwrite")
    assert f"{out} exists: writing over it (--overwrite)" in r.stderr and f"wrote {out} " in r.stderr
    assert probe(out)["streams"][0]["width"] == 160 and not (tmp_path / "night-4.mp4").exists()


def test_a_render_without_out_is_named_after_the_set_in_the_folder_it_was_typed_in(tmp_path):
    """README: `vj render tour --seed 7` is another show: no --out needed, the set's name is the file's,
    in the current folder, with the same rule beside a file that is there."""
    args = ("render", "demo", "--model", "seedling", "--audio", "none", "--duration", "0.5", "--size", "160x96",
            "--seed", "7", "--state", "none")
    r = vj(*args, cwd=tmp_path, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "no --out: rendering to demo.mp4 in this folder" in r.stderr
    assert probe(tmp_path / "demo.mp4")["streams"][0]["width"] == 160
    r = vj(*args, cwd=tmp_path, timeout=300)
    assert r.returncode == 0 and "rendering to demo-2.mp4 beside it" in r.stderr, r.stderr
