"""DVC stage evaluate_style: models/style_encoder.pt on the test split (tracks never trained on)
-> metrics/style.json, plots/style/tsne.png, plots/style/confusion.png."""
from pathlib import Path

import numpy as np

from pipeline.devices import pick_device
from pipeline.errors import UserError, exit_on_user_error
from pipeline.evaluation.style import plot_confusion, plot_tsne, style_metrics
from pipeline.fileio import write_json
from pipeline.losses import TripletLoss
from pipeline.models.style_encoder import load_style_encoder
from pipeline.params import load_params, section
from pipeline.tracking import stage_run
from pipeline.training.style import TripletSampler, embed, load_segments, read_clips

TSNE_PNG, CONFUSION_PNG = Path("plots/style/tsne.png"), Path("plots/style/confusion.png")


@exit_on_user_error
def main() -> int:
    params = load_params()
    style, seed = section(params, "style"), params["seed"]
    evaluation, distance = style["evaluation"], TripletLoss.from_params(style).distance
    with stage_run("evaluate_style", style, params["tracking"]["experiment"]) as run:
        model = load_style_encoder("models/style_encoder.pt").to(pick_device(style["device"], "style.device"))
        clips = read_clips("data/clips.csv")
        for split in ("train", "test"):
            if not (clips["split"] == split).any():
                raise UserError(f"data/clips.csv has no {split} segments (a genre needs >= 3 tracks to have a test split)")
        # the model's own front end, saved with it: nothing guessed from params.yaml
        train = load_segments(clips[clips["split"] == "train"], model.front_end)
        test = load_segments(clips[clips["split"] == "test"], model.front_end)
        train_emb = embed(model, train.spectrograms, int(evaluation["batch_size"])).numpy()
        test_emb = embed(model, test.spectrograms, int(evaluation["batch_size"])).numpy()
        sampler = TripletSampler(test.genres, test.tracks, style["anchor_genre"], same_track_fallback=True)
        triplets = sampler.held_out(int(evaluation["triplets"]), np.random.default_rng(seed + 2))
        metrics, predicted = style_metrics(train_emb, train.genres, test_emb, test.genres, triplets, distance=distance,
                                           anchor_genre=style["anchor_genre"], knn_k=int(evaluation["knn_k"]))
        metrics.update(q=model.q, test_segments=len(test), test_tracks=int(len(set(test.tracks))), distance=distance,
                       triplets_same_track=sampler.same_track)
        metrics = _rounded(metrics)
        plot_tsne(test_emb, test.genres, style["anchor_genre"], TSNE_PNG, float(evaluation["tsne_perplexity"]), seed, distance)
        plot_confusion(test.genres, predicted, CONFUSION_PNG, int(evaluation["knn_k"]))
        write_json("metrics/style.json", metrics)
        run.log_metrics(metrics)
        for path in (TSNE_PNG, CONFUSION_PNG, Path("metrics/style.json")):
            run.log_artifact(path)
    print("evaluate_style: " + ", ".join(f"{k} {metrics[k]:.4f}" for k in
                                         ("triplet_accuracy", "hiphop_roc_auc", "knn_genre_accuracy", "silhouette", "q")))
    return 0


def _rounded(value):
    """Six decimals: stable bytes in the metrics file across platforms' last-bit differences."""
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    return round(value, 6) if isinstance(value, float) else value


if __name__ == "__main__":
    raise SystemExit(main())
