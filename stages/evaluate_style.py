"""DVC stage evaluate_style: the style encoder on the test split (tracks never trained on) ->
metrics with bootstrap intervals, a t-SNE map and the kNN confusion matrix; plus the real audio
folders of `style.evaluation.real_dirs`, if any (scored in the metrics only)."""
from pipeline.devices import pick_device
from pipeline.errors import exit_on_user_error
from pipeline.evaluation.style import evaluate_style, plot_confusion, plot_tsne
from pipeline.fileio import write_json
from pipeline.models.style_encoder import load_style_encoder
from pipeline.stage import stage_params, stage_paths
from pipeline.tracking import stage_run


@exit_on_user_error
def main(argv: list[str] | None = None) -> int:
    paths = stage_paths(__doc__, "clips", "model", "metrics", "tsne", "confusion", argv=argv)
    params = stage_params()
    style = params.style
    with stage_run("evaluate_style", style, params.tracking.experiment, [paths.metrics]) as run:
        model = load_style_encoder(paths.model).to(pick_device(style.device, "style.device"))
        result = evaluate_style(model, paths.clips, style, params.seed, params.clips)
        metrics = result.metrics
        plot_tsne(result.test_embeddings, result.test_genres, style.anchor_genre, paths.tsne,
                  style.evaluation.tsne_perplexity, params.seed, metrics["distance"])
        plot_confusion(result.test_genres, result.predicted, paths.confusion, style.evaluation.knn_k)
        write_json(paths.metrics, metrics)
        run.log_metrics(metrics)
        for path in (paths.tsne, paths.confusion, paths.metrics):
            run.log_artifact(path)
    keys = ("triplet_accuracy", "hiphop_roc_auc", "knn_genre_accuracy", "silhouette", "q", "real_hiphop_roc_auc")
    ci95 = metrics.get("ci95", {})
    print("evaluate_style: " + ", ".join(
        f"{k} {metrics[k]:.4f}" + (f" [{ci95[k]['low']:.4f}, {ci95[k]['high']:.4f}]" if k in ci95 else "")
        for k in keys if k in metrics))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
