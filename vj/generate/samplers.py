"""How a diffusion model's noise becomes a clean latent in 1-8 steps: the samplers of the streaming loop.

Everything that does not change per frame is prepared once per (steps, strength): timesteps,
sigmas, input scales, the scheduler's own state. A frame then runs the steps:

    EulerSampler      Euler-type schedulers (the turbo models', the seedling's): plain tensor algebra
                      over precomputed sigmas, no scheduler call per frame; the only one with the
                      stream batch (its steps depend on the current latent alone)
    SchedulerSampler  any other diffusers scheduler (PNDM, DDIM, DPM-Solver, LCM, UniPC, Heun...)
                      through its own scale_model_input/step: its math exactly. Its state
                      (multistep history, step index) is captured once after set_timesteps and put
                      back before each frame, so a frame never sets timesteps or searches for them.

`model(x, t, n)` is the loop's UNet call (with guidance, if on): n rows of latents, a timestep
(0-d, or n of them), -> the raw output (epsilon, v or the sample, as the scheduler's config says).
Schedulers with randomness between steps (LCM, ancestral) draw it from a generator seeded with
the loop's seed before each frame: the same snapshot gives the same frame, and a still image
stays still instead of boiling.
"""

from __future__ import annotations

import inspect
import math
from typing import Callable

import torch

from vj.core.errors import VJError
from vj.core.spec import SCHEDULERS

Model = Callable[[torch.Tensor, torch.Tensor, int], torch.Tensor]

# schedulers whose timesteps and sigmas the Euler fast path reproduces exactly
EULER = ("EulerDiscreteScheduler",)

# settings a scheduler must have to run in 1-8 steps: PNDM's Runge-Kutta warm-up alone takes 12
# model calls, so it goes straight to its linear multistep part (as SD 1.5 itself ships it)
_REALTIME = {"PNDMScheduler": {"skip_prk_steps": True}}


def swap(scheduler, name: str):
    """The scheduler `name` (a SCHEDULERS key) built from this one's config (its noise schedule)."""
    import diffusers

    if name not in SCHEDULERS:
        raise VJError(f"scheduler {name!r}: one of {', '.join(SCHEDULERS)}")
    cls = getattr(diffusers, SCHEDULERS[name])
    return cls.from_config(scheduler.config, **_REALTIME.get(SCHEDULERS[name], {}))


def make_sampler(scheduler, steps: int, device: torch.device, dtype: torch.dtype, seed: int):
    """The sampler for a model's scheduler (a fresh copy of it: the pipeline's own is left as it is)."""
    sched = type(scheduler).from_config(scheduler.config, **_REALTIME.get(type(scheduler).__name__, {}))
    prediction = sched.config.get("prediction_type", "epsilon")
    if prediction not in ("epsilon", "v_prediction", "sample"):
        raise VJError(f"scheduler {type(sched).__name__}: unsupported prediction type {prediction!r}")
    if type(sched).__name__ in EULER:
        return EulerSampler(sched, steps, device, dtype, prediction)
    return SchedulerSampler(sched, steps, device, seed)


class EulerSampler:
    name = "euler"
    batchable = True

    def __init__(self, sched, steps: int, device: torch.device, dtype: torch.dtype, prediction: str) -> None:
        self.steps, self.device, self.dtype, self.prediction = steps, device, dtype, prediction
        sched.set_timesteps(steps, device=device)
        self.timesteps = [t.to(device) for t in sched.timesteps]
        sigmas = [float(s) for s in sched.sigmas]  # steps + 1 values, the last 0
        self.init_sigma = float(sched.init_noise_sigma)
        self.t2i = (self.timesteps, sigmas, [1.0 / (s * s + 1.0) ** 0.5 for s in sigmas[:-1]])
        self._alphas = sched.alphas_cumprod.double().cpu()  # for image-to-image schedules
        self._schedules: dict[int, tuple] = {}  # strength (thousandths) -> schedule()'s
        self._flight: tuple | None = None  # (schedule, the latents in flight) with the stream batch
        self._batch_consts: dict = {}

    def reset(self) -> None:
        """Forget the latents in flight (a new size)."""
        self._flight = None

    def schedule(self, strength_milli: int) -> tuple[list[torch.Tensor], list[float], list[float]]:
        """Timesteps, sigmas (+ a final 0) and input scales that start `strength` of the way into the
        noise: the trailing spacing the turbo schedulers use, begun from strength * T instead of T.
        Kept per sampler, 1000 strengths at most."""
        got = self._schedules.get(strength_milli)
        if got is None:
            n_train = len(self._alphas)
            top = strength_milli / 1000.0 * n_train
            ts = [max(0, min(n_train - 1, round(top * (self.steps - k) / self.steps) - 1)) for k in range(self.steps)]
            ac = self._alphas[ts]
            sigmas = [float(s) for s in ((1 - ac) / ac).sqrt()] + [0.0]
            timesteps = [torch.tensor(float(t), device=self.device) for t in ts]
            got = self._schedules[strength_milli] = (timesteps, sigmas, [1.0 / (s * s + 1.0) ** 0.5 for s in sigmas[:-1]])
        return got

    def denoise(self, noise: torch.Tensor, start: torch.Tensor | None, strength: float, model: Model,
                batch: bool = False) -> torch.Tensor:
        if start is None:
            schedule = self.t2i
            x = noise * self.init_sigma
        else:
            schedule = self.schedule(max(1, min(1000, round(strength * 1000))))
            x = start + schedule[1][0] * noise
        if batch and len(schedule[0]) > 1:
            return self._batched(x, schedule, model)
        return self.steps_of(x, schedule, model)[0]

    def _x0(self, x, out, sigma):
        """The clean latent the model predicts (sigma a float, or one per row of a batch)."""
        if self.prediction == "epsilon":
            return x - sigma * out
        if self.prediction == "v_prediction":
            return out * (-sigma / (sigma * sigma + 1.0) ** 0.5) + x / (sigma * sigma + 1.0)
        return out

    def steps_of(self, x: torch.Tensor, schedule, model: Model) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """The steps one after the other; returns x0 and the latent entering each step."""
        timesteps, sigmas, c_in = schedule
        x0, entering = x, []
        for i, t in enumerate(timesteps):
            entering.append(x)
            sigma = sigmas[i]
            x0 = self._x0(x, model(x * c_in[i], t, 1), sigma)
            if i + 1 < len(timesteps):
                x = x + (x - x0) / sigma * (sigmas[i + 1] - sigma)
        return x0, entering

    def _batched(self, x: torch.Tensor, schedule, model: Model) -> torch.Tensor:
        """Stream batch (after StreamDiffusion): the n steps of n consecutive frames in one UNet call.
        Row 0 is this frame entering at the first step, row k the frame from k frames ago entering
        step k; the last row leaves finished. One UNet call per frame instead of n, for n-1 frames of
        delay. A new schedule (strength moved) or size starts the pipeline again from this frame."""
        timesteps, sigmas, c_in = schedule
        n = len(timesteps)
        if self._flight is None or self._flight[0] is not schedule or self._flight[1].shape[2:] != x.shape[2:]:
            x0, entering = self.steps_of(x, schedule, model)
            self._flight = (schedule, torch.cat(entering[1:]))  # this frame's own later steps stand in
            return x0
        consts = self._batch_consts.get(id(schedule))
        if consts is None:
            rows = lambda v: torch.tensor(v, dtype=self.dtype, device=self.device).view(n, 1, 1, 1)  # noqa: E731
            consts = (torch.stack([t.reshape(()) for t in timesteps]), rows(sigmas[:-1]), rows(sigmas[1:]), rows(c_in))
            self._batch_consts = {id(schedule): consts}
        t_rows, sig, sig_next, cin = consts
        xs = torch.cat([x, self._flight[1]])
        x0 = self._x0(xs, model(xs * cin, t_rows, n), sig)
        advanced = xs + (xs - x0) / sig * (sig_next - sig)
        self._flight = (schedule, advanced[:-1])
        return x0[-1:]


MAX_SCHEDULE = 50  # image-to-image: at low strength the steps are the last few of at most this many


class SchedulerSampler:
    batchable = False

    def __init__(self, sched, steps: int, device: torch.device, seed: int) -> None:
        self.sched, self.steps, self.device, self.seed = sched, steps, device, seed
        self.name = type(sched).__name__
        params = inspect.signature(sched.step).parameters
        self._takes_generator = "generator" in params
        self._generator = torch.Generator(device=device)
        self._prepared: dict[int, tuple[dict, list[torch.Tensor]]] = {}
        self.set_timesteps_calls = 0  # the tests count them: once per strength, never per frame

    def reset(self) -> None:
        pass

    def _prepare(self, strength_milli: int) -> tuple[dict, list[torch.Tensor]]:
        """Set the timesteps once for this strength; keep the scheduler's state as it is then. With
        strength s < 1 the steps are the last `steps` of round(steps / s), as diffusers'
        image-to-image pipelines slice them (in units of the scheduler's order)."""
        got = self._prepared.get(strength_milli)
        if got is not None:
            return got
        s = self.sched
        total = self.steps if strength_milli >= 1000 else \
            min(MAX_SCHEDULE, max(self.steps, math.ceil(self.steps * 1000 / strength_milli)))
        s.set_timesteps(total, device=self.device)
        self.set_timesteps_calls += 1
        begin = (total - self.steps) * s.order
        if hasattr(s, "set_begin_index"):
            s.set_begin_index(begin)
        timesteps = list(s.timesteps[begin:])  # kept alive: their ids key the deep cache
        if len(self._prepared) > 64:  # a strength fader swept through a night: bounded
            self._prepared.clear()
        got = self._prepared[strength_milli] = (dict(vars(s)), timesteps)
        return got

    def _restore(self, state: dict) -> None:
        # lists (PNDM's history of outputs, DPM-Solver's model outputs) are filled during a frame:
        # each frame gets fresh ones; tensors are only ever replaced, never written into
        d = self.sched.__dict__
        d.clear()
        d.update({k: (list(v) if isinstance(v, list) else v) for k, v in state.items()})

    def denoise(self, noise: torch.Tensor, start: torch.Tensor | None, strength: float, model: Model,
                batch: bool = False) -> torch.Tensor:
        milli = 1000 if start is None else max(1, min(1000, round(strength * 1000)))
        state, timesteps = self._prepare(milli)
        self._restore(state)
        s = self.sched
        if start is None:
            x = noise * s.init_noise_sigma
        else:
            x = s.add_noise(start, noise, timesteps[0].reshape(1))
        kw = {}
        if self._takes_generator:
            self._generator.manual_seed(self.seed)
            kw["generator"] = self._generator
        for t in timesteps:
            out = model(s.scale_model_input(x, t), t, 1)
            x = s.step(out, t, x, return_dict=False, **kw)[0].to(noise.dtype)
        return x
