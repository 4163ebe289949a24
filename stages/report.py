"""DVC stage report: reports/index.html, one static page that plays every sample beside its
input and shows every stage's metrics and figures (self-contained: open it from disk)."""
from pipeline.errors import exit_on_user_error
from pipeline.report.build import collect, write_report
from pipeline.report.inputs import ReportInputs
from pipeline.stage import stage_params, stage_paths
from pipeline.tracking import project_root, stage_run

METRICS = ("speech", "data", "content", "style", "judges", "generation")
CURVES = ("content", "style", "judges")


@exit_on_user_error
def main(argv: list[str] | None = None) -> int:
    paths = stage_paths(__doc__, *(f"{n}-metrics" for n in METRICS), *(f"{n}-curves" for n in CURVES),
                        "style-plots", "generate-plots", "samples", "report", optional=("tradeoff",), argv=argv)
    params = stage_params()
    inputs = ReportInputs(metrics={n: getattr(paths, f"{n}_metrics") for n in METRICS},
                          curves={n: getattr(paths, f"{n}_curves") for n in CURVES},
                          style_plots=paths.style_plots, generate_plots=paths.generate_plots,
                          samples=paths.samples, tradeoff=paths.tradeoff)
    collected = collect(inputs, project_root())  # bad input stops here, before any MLflow run
    with stage_run("report", {"sample_rate": params.audio.sample_rate}, params.tracking.experiment) as run:
        counts = write_report(collected, paths.report, params.audio.sample_rate)
        for path in sorted(p for p in paths.report.rglob("*") if p.is_file()):
            run.log_artifact(path, str(path.parent.relative_to(paths.report.parent)))
    print(f"report: {paths.report / 'index.html'}: {counts['clips']} clips, {counts['audio']} audio files, "
          f"{counts['images']} images")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
