"""reports/index.html: one static page, no script, no network, links relative to its folder, a
little inline CSS for a layout that reads on a laptop and on a phone. Every string from data is
escaped; every link is URL-quoted."""
from __future__ import annotations

from dataclasses import dataclass, field
from html import escape
from urllib.parse import quote

from pipeline.report.tables import number

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d1d1f;background:#fafafa;line-height:1.45}
header,main{max-width:72rem;margin:0 auto;padding:0 1rem}
header{padding-top:1rem}
nav{display:flex;flex-wrap:wrap;gap:.3rem .9rem}
section{margin:1.5rem 0}
h2{border-bottom:1px solid #ddd;padding-bottom:.2rem}
.grid{display:grid;gap:1rem;grid-template-columns:repeat(auto-fit,minmax(min(100%,22rem),1fr))}
.grid>*{min-width:0}
td code{overflow-wrap:anywhere}
.card{background:#fff;border:1px solid #e2e2e2;border-radius:.5rem;padding:.8rem}
.card h3{margin:.1rem 0 .4rem;font-size:1rem}
figure{margin:0}
figcaption,.ci,.note{color:#666;font-size:.85rem}
img{max-width:100%;height:auto;display:block}
audio{width:100%}
.label{font-size:.85rem;margin:.4rem 0 .1rem}
.scroll{overflow-x:auto}
table{border-collapse:collapse;margin:.5rem 0;font-size:.9rem}
caption{text-align:left;color:#666;font-size:.85rem}
th,td{border:1px solid #ddd;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f0f0f0}
"""


def href(link: str) -> str:
    """A relative link, URL-quoted and HTML-escaped for an attribute."""
    return escape(quote(link), quote=True)


@dataclass
class SampleCard:
    """One clip as shown: its texts (raw; escaped when rendered) and its asset links."""
    utt_id: str
    condition: str
    transcript: str
    audio: dict[str, str]          # label -> link (input, ours, baseline)
    spectrograms: str
    scores: list[tuple[str, str, object, object]] = field(default_factory=list)  # (set, heard, cer, p(hip-hop))


@dataclass
class Section:
    anchor: str
    title: str
    body: str          # HTML, already escaped


def figure(link: str, caption: str) -> str:
    return (f'<figure><img src="{href(link)}" alt="{escape(caption, quote=True)}" loading="eager">'
            f"<figcaption>{escape(caption)}</figcaption></figure>")


def sample_card(card: SampleCard) -> str:
    players = "".join(f'<p class="label">{escape(label)}</p><audio controls preload="metadata" src="{href(link)}"></audio>'
                      for label, link in card.audio.items())
    heard = "".join(f"<tr><td>{escape(name)}</td><td>{escape(text)}</td><td>{number(cer)}</td><td>{number(p)}</td></tr>"
                    for name, text, cer, p in card.scores)
    scores = ('<div class="scroll"><table><thead><tr><th>audio</th><th>the ASR judge heard</th><th>CER</th>'
              f"<th>p(hip-hop)</th></tr></thead><tbody>{heard}</tbody></table></div>") if heard else ""
    return (f'<article class="card" id="clip-{escape(card.utt_id, quote=True)}"><h3>{escape(card.utt_id)} '
            f'<span class="note">({escape(card.condition)} speaker)</span></h3>'
            f"<p>&ldquo;{escape(card.transcript)}&rdquo;</p>{players}"
            f"{figure(card.spectrograms, 'spectrograms: input speech, ours, baseline')}{scores}</article>")


def render_page(title: str, intro: str, sections: list[Section]) -> str:
    nav = "".join(f'<a href="#{escape(s.anchor, quote=True)}">{escape(s.title)}</a>' for s in sections)
    body = "".join(f'<section id="{escape(s.anchor, quote=True)}"><h2>{escape(s.title)}</h2>{s.body}</section>'
                   for s in sections)
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            '<link rel="icon" href="data:,">'  # no favicon request
            f"<title>{escape(title)}</title><style>{CSS}</style></head>"
            f"<body><header><h1>{escape(title)}</h1><p>{escape(intro)}</p><nav>{nav}</nav></header>"
            f"<main>{body}</main></body></html>\n")
