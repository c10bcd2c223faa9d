# démontage: the two commands a newcomer types.
#   make demo   set up (system packages when possible, .venv, the project), render the demo set
#   make test   the same set-up, then the whole test suite (this is what .ci/run calls)

PYTHON     ?= python3
VENV       ?= .venv
# On the project's CI machines pip finds a CPU build of this torch on local disk; elsewhere
# PyPI's Linux wheel comes with CUDA. Another build, e.g.:
#   make TORCH_SPEC="torch==2.13.0 --index-url https://download.pytorch.org/whl/cu128" setup
TORCH_SPEC ?= torch==2.13.0
BIN        := $(VENV)/bin

# Debian/Ubuntu packages: ffmpeg for recordings, Mesa/EGL for GL without a screen, PortAudio for
# live audio; Xvfb, ImageMagick and x11-utils let the tests open and photograph a real window;
# JACK and liblo-tools are real audio/MIDI/OSC peers for the tests; iproute2's `ip netns` gives
# the Link tests a network of their own (nothing but loopback), and the remote generator's tests two
# "machines" joined by a link that iptables makes lossy; Chromium and its driver are the real
# browser the web remote's tests drive (selenium is told /usr/bin/chromedriver: nothing is downloaded).
APT_PACKAGES := ffmpeg libegl1 libegl-mesa0 libgl1-mesa-dri libgles2 libgl1 libglx-mesa0 \
                libportaudio2 libsndfile1 xvfb xauth x11-utils imagemagick \
                jackd2 jack-tools ecasound liblo-tools puredata-core iproute2 xdotool iptables \
                chromium chromium-driver

.PHONY: setup system-deps demo test bench clean

setup: system-deps $(VENV)/.installed

system-deps:
	@missing=""; \
	for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; done; \
	$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || missing="$$missing python3-venv"; \
	if [ -z "$$missing" ]; then echo "system packages: all present"; \
	elif ! command -v apt-get >/dev/null; then echo "system packages missing (install them with your package manager):$$missing"; \
	elif [ "$$(id -u)" != 0 ]; then echo "system packages missing; run as root: apt-get install -y$$missing"; exit 1; \
	else echo "installing system packages:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; fi

# torch first and explicitly: a bare `torch` requirement would pull a multi-GB CUDA build.
# gan-face-generate carries the dcgan-faces weights; its own code's dependencies (wandb,
# matplotlib, torchvision) are not needed, so it is installed without them.
$(VENV)/.installed: pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q $(TORCH_SPEC)
	$(BIN)/python -m pip install -q -e '.[test,camera,ndi,link,web,remote]'
	$(BIN)/python -m pip install -q --no-deps gan-face-generate==1.1.1
	touch $@

demo: setup
	@echo "demo: the model is the seedling, built in: tiny, trained here on procedural pictures, offline;"
	@echo "      with a GPU and real weights use --model sd-turbo (see docs/models.md)."
	HF_HUB_OFFLINE=1 $(BIN)/vj render sets/tour.toml --out demo.mp4 --overwrite
	@echo "demo: wrote $(CURDIR)/demo.mp4   (live: $(BIN)/vj run)"

test: setup
	$(BIN)/python -m pytest -q

bench: setup
	$(BIN)/vj bench engine --model seedling --size 640x360 --fps 24 --seconds 10

clean:
	rm -rf $(VENV) demo.mp4 .pytest_cache
