"""An installed `vj` (a wheel, not this checkout) finds its shaders, sets and mappings."""

import subprocess
import sys
import zipfile

from helpers import ROOT


def test_wheel_carries_the_data_and_an_install_finds_it(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(tmp_path), str(ROOT)], check=True, capture_output=True)
    wheel = next(tmp_path.glob("demontage-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for f in ("vj/_data/shaders/common.glsl", "vj/_data/shaders/kaleido.frag", "vj/_data/sets/demo.toml",
              "vj/_data/sets/demo-beat.ogg", "vj/_data/mappings/README.md",
              "vj/generate/tiny_tokenizer/vocab.json", "vj/generate/tiny_tokenizer/merges.txt",
              *(f"vj/web/static/{f}" for f in ("index.html", "app.js", "graph.js", "style.css")),  # the remote's page
              "vj/_data/sets/demo-show.ogg", "vj/seedling/weights/2/final/seedling.json",
              *(f"vj/seedling/weights/{season}/{c}/{f}" for season in ("1", "2") for c in ("early", "middle", "final")
                for f in ("config.json", "diffusion_pytorch_model.safetensors"))):
        assert f in names, f
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(wheel)],
                   check=True, capture_output=True)
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from vj.resources import data_dir, find_set; "
            "print(data_dir('shaders')); print(find_set('demo')); print(data_dir('mappings'))")
    out = subprocess.run([sys.executable, "-c", code, str(site)], cwd=tmp_path, capture_output=True, text=True,
                         check=True).stdout.split()
    assert all(line.startswith(str(site)) for line in out), out
