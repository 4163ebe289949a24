"""The embedded speech corpus: synthetic read English in the exact LibriSpeech layout, made
offline with espeak-ng (the `espeakng-loader` wheel ships the library and its data).

Speakers are espeak-ng base voices x voice variants (`en-us+m3`, `en-029+klatt2`, ...), each
with its own pitch, intonation range, rate and word gap; sentences come from a seeded grammar
over an embedded list of real English words. Every sentence is used once, so dev and test
sentences never occur in train; the unseen speakers (the unseen base voice, or a variant never
trained on) speak only test sentences.

Determinism: espeak-ng's output depends on its random seed (fixed per utterance here) and on
internal state that carries over from earlier utterances in the same process. So each speaker
is synthesised in a fresh forked child (a pool with one task per child) that starts from the
untouched library state: the same params give the same bytes whatever the worker count.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from pipeline.audio import resample, save_audio
from pipeline.config import EmbeddedSpeechConfig, SplitsConfig
from pipeline.data.espeak import Espeak
from pipeline.errors import UserError
from pipeline.parallel import fork_pool
from pipeline.fileio import atomic_path

# --- vocabulary --------------------------------------------------------------------------------
# Function words are always in the vocabulary; content words fill it up to `vocabulary_size`,
# taken from the front of each list in proportion to its length.
DETERMINERS = "the a this that every one some my his her our their your each another no".split()
PRONOUNS = "he she they we i you it someone nobody everyone".split()
PREPOSITIONS = """in on under over near behind beside across through along into onto from with
without after before around against beyond below above between toward past inside""".split()
CONJUNCTIONS = "and but while because so although when until since as".split()

ADJECTIVES = """old young big small red blue green yellow black white brown gray tall short
long wide narrow heavy light dark bright quiet loud soft hard warm cold hot cool wet dry clean
dirty new fresh empty full rich poor happy sad angry calm brave shy proud lazy busy kind cruel
gentle wild strange simple plain fancy pretty ugly sharp dull smooth rough thick thin deep
shallow sweet bitter sour salty round square flat steep quick slow early late strong weak
gold silver wooden broken tired hungry thirsty lonely famous honest clever foolish careful
curious eager nervous polite rude silly serious golden purple orange pink frozen hidden
ancient modern distant nearby rapid sudden gentle noisy silent sleepy lucky friendly secret
private public royal rural local foreign tiny huge giant fierce tender humble lively dusty
rusty shiny muddy sandy rocky snowy windy rainy sunny cloudy stormy misty velvet crimson
little grand""".split()

NOUNS = """man woman child boy girl farmer doctor teacher sailor soldier king queen prince
princess baker painter driver writer singer student captain merchant hunter fisher
neighbor stranger friend brother sister mother father uncle aunt cousin nurse judge
miller tailor shepherd pilot guard thief dog cat horse cow sheep goat pig bird duck goose
owl fox wolf bear deer rabbit mouse lion tiger monkey snake frog fish whale eagle crow
house door window wall roof floor table chair bed lamp clock mirror box basket bag bottle
cup plate bowl spoon knife fork kettle pot pan bucket barrel rope chain key lock ladder
hammer nail brush broom book letter paper pencil map picture song story poem garden field
forest river lake sea ocean island mountain hill valley road path bridge tower castle
village town city market shop church school station harbor farm barn mill well fence gate
tree flower leaf branch root seed apple pear plum grape lemon orange bread cheese butter
milk honey soup cake pie coffee tea water wine salt sugar rice corn wheat stone rock sand
mud snow rain wind storm cloud sun moon star sky fire smoke ash coal iron gold silver glass
wood cloth wool silk leather coat hat shoe boot glove shirt dress ring crown sword shield
bow arrow drum bell whistle flag boat ship train wagon cart wheel engine machine radio
camera phone ticket coin purse wallet blanket pillow candle lantern stove oven carpet
curtain ball toy doll kite puzzle game gift box feather shell pearl jewel diamond
mountain desert meadow cave cliff shore beach wave tide pond stream spring summer winter
autumn morning evening night noon hour minute week month year dinner breakfast supper
lunch party meeting journey voyage letter message secret promise question answer idea
dream plan reason problem lesson""".split()

TRANSITIVE_VERBS = """found took saw made held kept left brought bought sold built broke
carried caught cleaned closed opened cooked covered crossed dropped filled fixed followed
gathered grabbed guarded helped hid hit hugged joined kicked kissed knew liked loved lifted
lost marked met missed moved needed owned painted passed picked pulled pushed raised reached
read ripped saved searched shared showed signed smelled stole struck studied tasted taught
threw touched traded trusted turned used visited wanted warned washed watched wore wrapped
wrote chased counted dragged fed feared greeted heard hunted ignored judged noticed offered
ordered packed planted poured praised protected rescued returned shook spotted squeezed
stirred swept tied tossed towed bent borrowed burned buried checked collected copied crushed
delivered described dried emptied enjoyed examined explored""".split()

INTRANSITIVE_VERBS = """ran walked slept laughed cried smiled waited sang danced jumped fell
rose stopped started stayed arrived returned swam flew shouted whispered listened worked
played rested sat stood paused wandered hurried trembled shivered coughed sneezed yawned
prayed argued agreed departed vanished""".split()

ADVERBS = """quickly slowly quietly loudly softly gently carefully happily sadly angrily calmly
suddenly finally often always never rarely again today yesterday tonight later early soon
together alone away outside inside upstairs downstairs everywhere somewhere badly well
bravely boldly kindly politely proudly""".split()

FUNCTION_WORDS = (DETERMINERS, PRONOUNS, PREPOSITIONS, CONJUNCTIONS)
CONTENT_CLASSES = ("adjective", "noun", "transitive", "intransitive", "adverb")
_CONTENT = {"adjective": ADJECTIVES, "noun": NOUNS, "transitive": TRANSITIVE_VERBS,
            "intransitive": INTRANSITIVE_VERBS, "adverb": ADVERBS}

MIN_VOCABULARY = 500
MIN_SPEAKERS = 8


def _unique(words: list[str]) -> list[str]:
    return list(dict.fromkeys(words))


def vocabulary(size: int) -> dict[str, list[str]]:
    """Word classes of a vocabulary of at least `size` distinct words (function words plus the
    first words of each content class, in proportion)."""
    content = {name: _unique(words) for name, words in _CONTENT.items()}
    function_words = {w for words in FUNCTION_WORDS for w in words}
    content = {name: [w for w in words if w not in function_words] for name, words in content.items()}
    available = len(function_words | {w for words in content.values() for w in words})
    if not MIN_VOCABULARY <= size <= available:
        raise ValueError(f"data.embedded_speech.vocabulary_size must be between {MIN_VOCABULARY} and "
                         f"{available} (the embedded word list), got {size}")
    total = sum(len(words) for words in content.values())
    fraction = (size - len(function_words)) / total
    while True:  # grow the fraction until overlaps between classes no longer shrink us below size
        picked = {name: words[:max(1, int(np.ceil(fraction * len(words))))] for name, words in content.items()}
        distinct = function_words | {w for words in picked.values() for w in words}
        if len(distinct) >= size or fraction >= 1:
            break
        fraction = min(1.0, fraction + 0.01)
    picked.update(determiner=DETERMINERS, pronoun=PRONOUNS, preposition=PREPOSITIONS, conjunction=CONJUNCTIONS)
    return picked


# --- grammar -----------------------------------------------------------------------------------
def _noun_phrase(rng: np.random.Generator, words: dict) -> list[str]:
    pick = lambda name: words[name][rng.integers(len(words[name]))]  # noqa: E731
    kind = rng.random()
    if kind < 0.45:
        return [pick("determiner"), pick("noun")]
    if kind < 0.85:
        return [pick("determiner"), pick("adjective"), pick("noun")]
    # A possessive gives the apostrophes LibriSpeech transcripts have.
    return [pick("determiner"), pick("noun") + "'s", pick("noun")]


def _clause(rng: np.random.Generator, words: dict) -> list[str]:
    pick = lambda name: words[name][rng.integers(len(words[name]))]  # noqa: E731
    subject = [pick("pronoun")] if rng.random() < 0.3 else _noun_phrase(rng, words)
    if rng.random() < 0.7:
        verb = [pick("transitive")] + _noun_phrase(rng, words)
    else:
        verb = [pick("intransitive")]
    place = [pick("preposition")] + _noun_phrase(rng, words) if rng.random() < 0.5 else []
    manner = [pick("adverb")] if rng.random() < 0.35 else []
    return subject + verb + place + manner


def sentence(rng: np.random.Generator, words: dict, n_words: int, max_tries: int = 2000) -> str:
    """A random sentence of exactly `n_words` words (one or two clauses)."""
    for _ in range(max_tries):
        tokens = _clause(rng, words)
        if rng.random() < 0.4:
            tokens += [words["conjunction"][rng.integers(len(words["conjunction"]))]] + _clause(rng, words)
        if len(tokens) == n_words:
            return " ".join(tokens)
    raise ValueError(f"the sentence grammar cannot make {n_words}-word sentences: check min_words / max_words")


def unique_sentences(count: int, words: dict, min_words: int, max_words: int, rng: np.random.Generator) -> list[str]:
    """`count` distinct sentences, lengths uniform in [min_words, max_words], in generation order."""
    seen: dict[str, None] = {}
    while len(seen) < count:
        seen.setdefault(sentence(rng, words, int(rng.integers(min_words, max_words + 1))), None)
    return list(seen)


# --- speakers and splits -----------------------------------------------------------------------
# Variants whose espeak-ng voice files describe a female voice (for SPEAKERS.TXT's SEX column).
FEMALE_VARIANTS = {"f1", "f2", "f3", "f4", "f5", "Alicia", "Andrea", "Annie", "anika", "aunty", "belinda",
                   "grandma", "linda", "shelby", "steph", "steph2", "steph3", "whisperf"}


def _voice(voice: str, variant: str) -> str:
    return f"{voice}+{variant}" if variant else voice


def _draw_speakers(pairs: list[tuple[str, str]], count: int, cfg: EmbeddedSpeechConfig,
                   rng: np.random.Generator) -> list[dict]:
    """`count` speakers over (voice, variant) `pairs`: every pair once in a seeded order before
    any repeats, each speaker with its own pitch, pitch range, rate and word gap."""
    order = []
    while len(order) < count:
        order += [pairs[i] for i in rng.permutation(len(pairs))]
    draw = lambda low_high: int(rng.integers(low_high[0], low_high[1] + 1))  # noqa: E731
    return [{"voice": _voice(voice, variant), "variant": variant, "pitch": draw(cfg.pitch),
             "pitch_range": draw(cfg.pitch_range), "rate": draw(cfg.rate), "word_gap": draw(cfg.word_gap)}
            for voice, variant in order[:count]]


def speakers(cfg: EmbeddedSpeechConfig, rng: np.random.Generator) -> tuple[list[dict], list[dict]]:
    """Seen speakers (`speakers` of them over voices x variants) and unseen ones (`unseen_speakers`
    over the unseen voice with any variant, and any voice with an unseen variant): no unseen
    speaker shares a base voice and variant with a seen one. IDs are numbers from 100."""
    seen_pairs = [(v, var) for v in cfg.voices for var in cfg.variants]
    unseen_pairs = ([(cfg.unseen_voice, var) for var in (*cfg.variants, *cfg.unseen_variants)]
                    + [(v, var) for v in cfg.voices for var in cfg.unseen_variants])
    seen = _draw_speakers(seen_pairs, cfg.speakers, cfg, rng)
    unseen = _draw_speakers(unseen_pairs, cfg.unseen_speakers, cfg, rng)
    for i, speaker in enumerate(seen + unseen):
        speaker["id"] = str(100 + i)
        speaker["sex"] = "F" if speaker["variant"] in FEMALE_VARIANTS else "M"
        speaker["name"] = (f"espeak-ng {speaker['voice']} pitch {speaker['pitch']} range {speaker['pitch_range']} "
                           f"rate {speaker['rate']} gap {speaker['word_gap']}")
    return seen, unseen


def plan_utterances(cfg: EmbeddedSpeechConfig, splits: SplitsConfig, seed: int) -> list[dict]:
    """Every utterance: subset, speaker, chapter, utt_id, text. Deterministic in (cfg, seed).
    ValueError when the config cannot make the corpus (too few speakers or utterances)."""
    if cfg.speakers < MIN_SPEAKERS:
        raise ValueError(f"data.embedded_speech.speakers must be at least {MIN_SPEAKERS}, got {cfg.speakers}")
    rng = np.random.default_rng(seed)
    total = cfg.utterances
    n_dev, n_test = int(round(total * cfg.dev_fraction)), int(round(total * cfg.test_fraction))
    n_unseen = int(round(n_test * cfg.unseen_share_of_test))
    n_train = total - n_dev - n_test
    if min(n_train, n_dev, n_unseen, n_test - n_unseen) < 1:
        raise ValueError(f"data.embedded_speech.utterances={total} is too few for the dev/test fractions")
    words = vocabulary(cfg.vocabulary_size)
    texts = unique_sentences(total, words, cfg.min_words, cfg.max_words, rng)
    seen, unseen = speakers(cfg, rng)
    subset = {split: getattr(splits, split)[0] for split in ("train", "dev", "test")}
    # (subset, speakers, count): seen speakers take turns in a seeded order, so splits are balanced.
    parts = [(subset["train"], seen, n_train), (subset["dev"], seen, n_dev),
             (subset["test"], seen, n_test - n_unseen), (subset["test"], unseen, n_unseen)]
    plan, next_text = [], iter(texts)
    for name, who, count in parts:
        order = [who[i] for i in rng.permutation(len(who))]
        for k in range(count):
            plan.append({"subset": name, "speaker": order[k % len(order)], "text": next(next_text)})
    chapters: dict[tuple, list[dict]] = {}
    for utt in plan:
        chapters.setdefault((utt["subset"], utt["speaker"]["id"]), []).append(utt)
    for number, ((_, speaker_id), utts) in enumerate(sorted(chapters.items())):
        for index, utt in enumerate(utts):
            utt["chapter"] = str(1000 + number)
            utt["utt_id"] = f"{speaker_id}-{utt['chapter']}-{index:04d}"
    return plan


def _check_voices(voices: list[str]) -> None:
    engine = Espeak()
    for voice in dict.fromkeys(voices):
        engine.set_voice(voice)


def _synthesise_speaker(job: tuple) -> list[float]:
    """Child process: write one speaker's FLACs (all its chapters, in plan order), return their
    durations in seconds. One child per speaker, not per chapter: forking is most of the cost
    of a short chapter."""
    import torch

    torch.set_num_threads(1)  # forked child: keep torch off thread pools inherited from the parent
    utterances, folders, sample_rate, seed, end_silence = job
    engine = Espeak()
    seconds = []
    for utt, folder in zip(utterances, folders):
        speaker = utt["speaker"]
        utt_seed = (seed * 1_000_003 + int(utt["utt_id"].replace("-", ""))) % (2 ** 31)
        samples = engine.synthesise(utt["text"] + ".", speaker["voice"], speaker["pitch"], speaker["rate"], utt_seed,
                                    pitch_range=speaker["pitch_range"], word_gap=speaker["word_gap"])
        samples = np.concatenate([samples, np.zeros(int(end_silence * engine.sample_rate), np.int16)])
        audio = resample(samples.astype(np.float32) / 32768.0, engine.sample_rate, sample_rate)
        save_audio(Path(folder) / f"{utt['utt_id']}.flac", audio, sample_rate)
        seconds.append(len(audio) / sample_rate)
    return seconds


def _run_fresh(function, jobs: list, workers: int) -> list:
    """Map `function` over `jobs`, each in a freshly forked child (see the module docstring)."""
    with fork_pool(max(1, min(workers, len(jobs))), maxtasksperchild=1) as pool:
        return pool.map(function, jobs, chunksize=1)


# --- the corpus --------------------------------------------------------------------------------
README = """Embedded LibriSpeech-layout corpus: SYNTHETIC speech, not LibriSpeech.

Made offline by the Fake Rapper Helper pipeline with espeak-ng (voices x variants, each with
its own pitch, intonation range, rate and word gap, act as speakers) reading sentences from a small seeded grammar. Same layout and file formats as
LibriSpeech (OpenSLR 12) so the same reader serves both. Regenerate it from params.yaml.
"""
LICENSE = """Synthetic audio generated with espeak-ng (GPL-3.0 software; its output is not covered by
the GPL). The sentences are generated text. No LibriSpeech or LibriVox material is included.
"""


def _speakers_txt(plan: list[dict], seconds: dict[str, float]) -> str:
    rows: dict[tuple, float] = {}
    who = {}
    for utt in plan:
        key = (utt["speaker"]["id"], utt["subset"])
        rows[key] = rows.get(key, 0.0) + seconds[utt["utt_id"]]
        who[utt["speaker"]["id"]] = utt["speaker"]
    lines = ["; Speakers of the SYNTHETIC embedded corpus: espeak-ng voice x pitch x rate.",
             "; A speaker has one row per subset it reads in (seen speakers read in several).",
             ";ID  |SEX| SUBSET           |MINUTES| NAME"]
    for (speaker_id, subset), total in sorted(rows.items(), key=lambda item: (int(item[0][0]), item[0][1])):
        speaker = who[speaker_id]
        lines.append(f"{speaker_id:<5}| {speaker['sex']} | {subset:<17}| {total / 60:5.2f} | {speaker['name']}")
    return "\n".join(lines) + "\n"


def _chapters_txt(plan: list[dict], seconds: dict[str, float]) -> str:
    chapters: dict[str, dict] = {}
    for utt in plan:
        entry = chapters.setdefault(utt["chapter"], {"reader": utt["speaker"]["id"], "subset": utt["subset"], "s": 0.0})
        entry["s"] += seconds[utt["utt_id"]]
    lines = ["; Chapters of the SYNTHETIC embedded corpus (one per speaker and subset).",
             ";ID     |READER|MINUTES| SUBSET           | BOOK ID | CH. TITLE"]
    for chapter, e in sorted(chapters.items()):
        lines.append(f"{chapter:<7}| {e['reader']:<5}| {e['s'] / 60:5.2f} | {e['subset']:<17}| 0       | generated sentences")
    return "\n".join(lines) + "\n"


def build_embedded_librispeech(root: str | Path, cfg: EmbeddedSpeechConfig, splits: SplitsConfig, sample_rate: int,
                               seed: int, workers: int | None = None) -> None:
    """Write the synthetic corpus as `root/LibriSpeech/...` (replacing any previous one, all or
    nothing). Of each split's subsets in `splits`, the first is written. `workers` (default: CPU
    count) changes speed only, never the bytes."""
    plan = plan_utterances(cfg, splits, seed)
    workers = workers or os.cpu_count() or 1
    _run_fresh(_check_voices, [[_voice(v, var) for v in (*cfg.voices, cfg.unseen_voice)
                                for var in (*cfg.variants, *cfg.unseen_variants)]], 1)
    with atomic_path(Path(root) / "LibriSpeech") as tmp:
        chapters: dict[tuple, list[dict]] = {}
        for utt in plan:
            chapters.setdefault((utt["subset"], utt["speaker"]["id"], utt["chapter"]), []).append(utt)
        by_speaker: dict[str, tuple[list, list]] = {}
        for (subset, speaker_id, chapter), utts in chapters.items():
            folder = tmp / subset / speaker_id / chapter
            folder.mkdir(parents=True)
            (folder / f"{speaker_id}-{chapter}.trans.txt").write_text(
                "".join(f"{u['utt_id']} {u['text'].upper()}\n" for u in utts), encoding="utf-8")
            speaker_utts, folders = by_speaker.setdefault(speaker_id, ([], []))
            speaker_utts += utts
            folders += [str(folder)] * len(utts)
        jobs = [(utts, folders, sample_rate, seed, cfg.end_silence_seconds) for utts, folders in by_speaker.values()]
        # Longest jobs first keeps both workers busy to the end.
        order = sorted(range(len(jobs)), key=lambda i: -len(jobs[i][0]))
        durations = dict(zip(order, _run_fresh(_synthesise_speaker, [jobs[i] for i in order], workers)))
        seconds = {u["utt_id"]: s for i, job in enumerate(jobs) for u, s in zip(job[0], durations[i])}
        (tmp / "SPEAKERS.TXT").write_text(_speakers_txt(plan, seconds), encoding="utf-8")
        (tmp / "CHAPTERS.TXT").write_text(_chapters_txt(plan, seconds), encoding="utf-8")
        (tmp / "BOOKS.TXT").write_text("; No books: the sentences of this SYNTHETIC corpus are generated.\n",
                                       encoding="utf-8")
        (tmp / "README.TXT").write_text(README, encoding="utf-8")
        (tmp / "LICENSE.TXT").write_text(LICENSE, encoding="utf-8")
