"""Speech in, hip-hop out: gradient descent on a log1p |STFT| target against the frozen content
and style encoders (`losses`, `optimise`), started from the speech, noise or the speech over a
beat (`init`), in cross-faded windows (`windows`), reconstructed with Griffin-Lim (`render`).
`generator.Generator` ties them together for the `generate` stage and the CLI alike; the hip-hop
references it matches are precomputed once by the `style_targets` stage (`targets`)."""
