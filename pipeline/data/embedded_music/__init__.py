"""The embedded music corpus: procedurally synthesised songs of ten broad genres, written exactly
in the MagnaTagATune layout (`mp3/<0..f>/<artist>-<album>-<NN>-<title>-<start>-<end>.mp3`,
`annotations_final.csv` with the real 188 tag columns, `clip_info_final.csv`).

Each genre has its own tempo range, rhythm, drum kit, bass, harmony and timbres; every track
draws its tempo, key, sub-style, instruments, mix, reverb, brightness, loudness and noise floor
from its own Generator, seeded from (seed, genre, track), so no single constant gives a genre
away and the same params give the same bytes whatever the worker count. A track is rendered once
and cut into consecutive ~29.1 s clips, as the real clips are cut from Magnatune tracks.

Tags are drawn per clip, imperfectly, from the genre's real MTAT tags plus instrument / mood
tags; a clip never carries a tag of a genre that comes before its own in the subset's priority,
so `build_subset` maps it back to its genre. The genres and their tags are params `subset`
(passed in as `taxonomy`), each genre with a recipe here. A few extra clips carry no genre tag,
one listed clip is missing on disk and one is garbage bytes, as in the real corpus.

Where each part lives:
- `hiphop`, `rock`, `metal`, `pop`, `electronic`, `classical`, `jazz`, `country_folk`, `ambient`,
  `world`: one genre each, its `SPEC` (tempi, scales, tags) beside its recipe `render`;
- `recipes`: the registry `RECIPES` (genre -> spec, render), drawing and mastering a track;
- `arrangement`: `Song` (tempo grid, key), `Mix` and the helpers every recipe is written with;
- `synth`: the numpy instruments, drums and effects;
- `tags`: the 188 MTAT tag columns, the tags drawn per clip, artist / album / title names;
- `corpus`: planning the clips, the CSVs, the synthesis jobs and `build_embedded_mtat`.
"""
from pipeline.data.embedded_music.arrangement import SCALES, Song
from pipeline.data.embedded_music.corpus import build_embedded_mtat, plan_corpus, segment_bounds
from pipeline.data.embedded_music.recipes import RECIPES, draw_song, render_track
from pipeline.data.embedded_music.tags import MTAT_TAGS

__all__ = ["MTAT_TAGS", "RECIPES", "SCALES", "Song", "build_embedded_mtat", "draw_song", "plan_corpus",
           "render_track", "segment_bounds"]
