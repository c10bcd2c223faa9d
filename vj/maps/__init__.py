"""Structure maps of pictures: what a ControlNet is conditioned on (canny edges, soft edges, lines),
read by OpenCV, and made off the generator's thread (worker.py). No torch here: the seedling's
training paints its maps with the same functions the show reads them with."""
