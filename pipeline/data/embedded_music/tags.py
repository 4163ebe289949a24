"""MagnaTagATune's tags and names for the embedded corpus: the 188 tag columns of the real
`annotations_final.csv`, the tags drawn per clip (from the genre's recipe and the taxonomy of
params `subset`), and the artist, album and title names that make up a clip's file name."""
from __future__ import annotations

import re
from typing import TYPE_CHECKING

import numpy as np

from pipeline.data.embedded_music.arrangement import pick
from pipeline.data.embedded_music.recipes import RECIPES

if TYPE_CHECKING:
    from pipeline.config import SubsetConfig

# The 188 tag columns of the real annotations_final.csv, in its order.
MTAT_TAGS = (
    "no voice", "singer", "duet", "plucking", "hard rock", "world", "bongos", "harpsichord", "female singing",
    "clasical", "sitar", "chorus", "female opera", "male vocal", "vocals", "clarinet", "heavy", "silence", "beats",
    "men", "woodwind", "funky", "no strings", "chimes", "foreign", "no piano", "horns", "classical", "female",
    "no voices", "soft rock", "eerie", "spacey", "jazz", "guitar", "quiet", "no beat", "banjo", "electric", "solo",
    "violins", "folk", "female voice", "wind", "happy", "ambient", "new age", "synth", "funk", "no singing",
    "middle eastern", "trumpet", "percussion", "drum", "airy", "voice", "repetitive", "birds", "space", "strings",
    "bass", "harpsicord", "medieval", "male voice", "girl", "keyboard", "acoustic", "loud", "classic", "string",
    "drums", "electronic", "not classical", "chanting", "no violin", "not rock", "no guitar", "organ", "no vocal",
    "talking", "choral", "weird", "opera", "soprano", "fast", "acoustic guitar", "electric guitar", "male singer",
    "man singing", "classical guitar", "country", "violin", "electro", "reggae", "tribal", "dark", "male opera",
    "no vocals", "irish", "electronica", "horn", "operatic", "arabic", "lol", "low", "instrumental", "trance",
    "chant", "strange", "drone", "synthesizer", "heavy metal", "modern", "disco", "bells", "man", "deep",
    "fast beat", "industrial", "hard", "harp", "no flute", "jungle", "pop", "lute", "female vocal", "oboe",
    "mellow", "orchestral", "viola", "light", "echo", "piano", "celtic", "male vocals", "orchestra", "eastern",
    "old", "flutes", "punk", "spanish", "sad", "sax", "slow", "male", "blues", "vocal", "indian", "no singer",
    "scary", "india", "woman", "woman singing", "rock", "dance", "piano solo", "guitars", "no drums", "jazzy",
    "singing", "cello", "calm", "female vocals", "voices", "different", "techno", "clapping", "house", "monks",
    "flute", "not opera", "not english", "oriental", "beat", "upbeat", "soft", "noise", "choir", "female singer",
    "rap", "metal", "hip hop", "quick", "water", "baroque", "women", "fiddle", "english",
)


def genre_of_tags(tags, taxonomy: SubsetConfig) -> str | None:
    """The genre `build_subset` maps these tags to: the first in `priority` with a tag among them."""
    tagset = set(tags)
    return next((g for g in taxonomy.priority if tagset.intersection(taxonomy.genres[g])), None)


def outranking_tags(genre: str, taxonomy: SubsetConfig) -> set[str]:
    """Tags of the genres before `genre` in `priority`: one of them on a clip would take it."""
    priority = taxonomy.priority
    return {t for g in priority[: priority.index(genre)] for t in taxonomy.genres[g]}


# Tags that say a clip has a voice, or has none; a clip's vocal tags follow its track's voice.
VOICE_TAGS = {"singer", "female singing", "male vocal", "vocals", "female", "female voice", "voice", "male voice",
              "talking", "male singer", "man singing", "vocal", "singing", "female vocal", "female vocals", "voices",
              "female singer", "male vocals", "woman singing", "male", "woman", "man", "chant", "chanting"}
NO_VOICE_TAGS = {"no voice", "no voices", "no singing", "no vocal", "no vocals", "instrumental", "no singer"}
VOICE_TAG_DRAWS = {  # what an annotator notes about the voice of each kind, with its probability
    "rap": {"male vocal": 0.3, "vocals": 0.2, "voice": 0.15, "talking": 0.1, "male voice": 0.1},
    "sung": {"vocal": 0.25, "vocals": 0.2, "singing": 0.2, "voice": 0.1, "male vocal": 0.1, "female vocal": 0.1},
    "choir": {"voices": 0.2, "singing": 0.15, "chant": 0.05, "vocals": 0.1},
}


def clip_tags(genre: str, style: str, rng: np.random.Generator, taxonomy: SubsetConfig, vocal: bool = False) -> list[str]:
    """Tags one annotator might give a clip: one or two of the sub-style's genre tags (rarely one
    of the genre's other tags), then instrument / mood tags and, with `vocal`, voice tags (never
    a voice tag on an instrumental track, never "no vocals" on a sung one); never a tag of a
    genre that would out-rank this one."""
    spec = RECIPES[genre].spec
    main = spec.style_tags[style]
    tags = {main[0] if rng.uniform() < 0.8 or len(main) == 1 else main[1]}
    for tag in main[1:]:
        if rng.uniform() < 0.35:
            tags.add(tag)
    if rng.uniform() < 0.1:
        tags.add(pick(rng, taxonomy.genres[genre]))
    for tag, prob in spec.tags.items():
        if rng.uniform() < prob:
            tags.add(tag)
    tags -= NO_VOICE_TAGS if vocal else VOICE_TAGS
    for tag, prob in (VOICE_TAG_DRAWS[spec.voice] if vocal else {"no vocals": 0.1, "instrumental": 0.1}).items():
        if rng.uniform() < prob:
            tags.add(tag)
    outranking = outranking_tags(genre, taxonomy)
    tags = {t for t in tags if t in MTAT_TAGS and t not in outranking}
    assert genre_of_tags(tags, taxonomy) == genre, (genre, tags)
    return sorted(tags, key=MTAT_TAGS.index)


def untagged_clip_tags(genre: str, style: str, rng: np.random.Generator, taxonomy: SubsetConfig) -> list[str]:
    """A clip nobody gave a genre tag: a few instrument / mood tags at most (or none)."""
    tags = {t for t, p in RECIPES[genre].spec.tags.items() if rng.uniform() < p / 2}
    all_genre_tags = {t for ts in taxonomy.genres.values() for t in ts}
    return sorted((t for t in tags if t in MTAT_TAGS and t not in all_genre_tags), key=MTAT_TAGS.index)


_FIRST = "john mary carl anna lisa mark paul nina omar ravi sofia leo ella ivan yuki kofi maria tom jean dora".split()
_LAST = """hale moreno carter vance okafor lindqvist brennan ashford kowalski tanaka mendes sharma novak
reyes hart""".split()
_WORDS = """night river stone glass echo shadow silver morning velvet ember golden hollow wild quiet
electric blue iron paper summer winter distant broken open lost northern southern crimson
paper lantern harbor desert mountain ocean city garden rain fire light smoke dream road""".split()
_CLASSICAL_TITLES = "sonata partita suite prelude fugue aria cantata nocturne etude concerto minuet sarabande".split()


def slug(text: str) -> str:
    """MTAT file-name style: lower case, anything but letters and digits becomes '_'."""
    return re.sub(r"[^a-z0-9]", "_", text.lower())


def draw_name(rng: np.random.Generator, genre: str, kind: str) -> str:
    if kind == "artist":
        if rng.uniform() < 0.5:
            return f"{pick(rng, _FIRST)} {pick(rng, _LAST)}"
        return f"the {pick(rng, _WORDS)} {pick(rng, _WORDS)}s"
    if genre == "classical" and kind == "title":
        movement = pick(rng, ("i", "ii", "iii", "iv"))
        tempo = pick(rng, ("allegro", "adagio", "andante", "presto", "largo"))
        return f"{pick(rng, _CLASSICAL_TITLES)} no. {int(rng.integers(1, 30))}, {movement}. {tempo}"
    return " ".join(pick(rng, _WORDS) for _ in range(int(rng.integers(1, 4))))

