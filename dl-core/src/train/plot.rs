//! Learning curves of a [`History`] as PNG or SVG, drawn with `plotters`.
//!
//! One panel for the loss and one per metric, each with the training curve (blue) and, when
//! there is validation data, the validation curve (red), against the epoch number (from 1).
//!
//! Text (titles, axis labels, legend) needs a TrueType font; `plotters` is built without
//! system-font discovery to keep the build small, so the font is read once from the file named
//! by the `DL_PLOT_FONT` environment variable or from a usual system location (DejaVu Sans,
//! Liberation Sans, Arial). Without one, the curves and axes are drawn without text.

use crate::error::{Error, Result};
use crate::train::history::History;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;
use std::sync::OnceLock;

/// Panel size in pixels.
const PANEL: (u32, u32) = (480, 360);
/// The font family registered for plots.
const FAMILY: &str = "sans-serif";
/// Where fonts usually are, tried in order after `DL_PLOT_FONT`.
const FONT_PATHS: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/System/Library/Fonts/Supplemental/Arial.ttf",
    "/Library/Fonts/Arial.ttf",
    "C:\\Windows\\Fonts\\arial.ttf",
];

/// Registers a font for plot text once per process; whether one was found.
fn font_available() -> bool {
    static FONT: OnceLock<bool> = OnceLock::new();
    *FONT.get_or_init(|| {
        let env = std::env::var_os("DL_PLOT_FONT");
        let candidates = env
            .iter()
            .map(|p| Path::new(p.as_os_str()))
            .chain(FONT_PATHS.iter().map(Path::new));
        for path in candidates {
            if let Ok(bytes) = std::fs::read(path) {
                // Registered fonts must live for the whole process: leaked once.
                let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
                if plotters::style::register_font(FAMILY, FontStyle::Normal, bytes).is_ok() {
                    return true;
                }
            }
        }
        false
    })
}

impl History {
    /// Writes the learning curves to `path`: a PNG or an SVG by its extension (`.png`, `.svg`).
    ///
    /// ```
    /// use dl_core::train::{History, Logs};
    /// # fn main() -> dl_core::Result<()> {
    /// let mut h = History::default();
    /// for (l, v) in [(1.0, 1.1), (0.6, 0.8), (0.4, 0.7)] {
    ///     h.push(&Logs::new(vec![("loss".into(), l), ("val_loss".into(), v)]));
    /// }
    /// let dir = tempfile::tempdir().unwrap();
    /// let svg = dir.path().join("curves.svg");
    /// h.plot(&svg)?;
    /// assert!(std::fs::read_to_string(&svg).unwrap().starts_with("<svg"));
    /// # Ok(()) }
    /// ```
    pub fn plot(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let panels = self.panels();
        let size = (PANEL.0 * panels.len().max(1) as u32, PANEL.1);
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        let text = font_available();
        let drawn = match ext.as_deref() {
            Some("png") => {
                let root = BitMapBackend::new(path, size).into_drawing_area();
                draw(&root, self, &panels, text)
                    .and_then(|()| root.present().map_err(|e| e.to_string()))
            }
            Some("svg") => {
                let root = SVGBackend::new(path, size).into_drawing_area();
                draw(&root, self, &panels, text)
                    .and_then(|()| root.present().map_err(|e| e.to_string()))
            }
            _ => {
                return Err(Error::config(
                    "plot file name",
                    format!("`{}` must end in .png or .svg", path.display()),
                ));
            }
        };
        drawn.map_err(|e| {
            Error::io(
                path,
                std::io::Error::other(format!("cannot draw the plot: {e}")),
            )
        })
    }

    /// The panels: `loss`, then each training metric (columns without `val_`, except `lr`).
    fn panels(&self) -> Vec<&str> {
        self.names()
            .iter()
            .map(String::as_str)
            .filter(|n| !n.starts_with("val_") && *n != "lr")
            .collect()
    }
}

/// Draws every panel on `root`.
fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    history: &History,
    panels: &[&str],
    text: bool,
) -> std::result::Result<(), String> {
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    root.fill(&WHITE).map_err(err)?;
    let areas = root.split_evenly((1, panels.len().max(1)));
    for (area, &name) in areas.iter().zip(panels) {
        let val_name = format!("val_{name}");
        let train = history.get(name).unwrap_or_default();
        let val = history.get(&val_name);
        let (lo, hi) = train
            .iter()
            .chain(val.unwrap_or_default())
            .filter(|v| v.is_finite())
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
                (lo.min(v), hi.max(v))
            });
        let (lo, hi) = if name.ends_with("accuracy") {
            (lo.min(0.0), hi.max(1.0))
        } else if lo <= hi {
            (lo, hi)
        } else {
            (0.0, 1.0)
        };
        let pad = ((hi - lo) * 0.05).max(1e-3);
        let epochs = history.epochs().max(1) as f32;
        let mut builder = ChartBuilder::on(area);
        builder.margin(12);
        if text {
            builder
                .caption(name, (FAMILY, 20))
                .x_label_area_size(35)
                .y_label_area_size(55);
        }
        let mut chart = builder
            .build_cartesian_2d(0.5f32..epochs + 0.5, lo - pad..hi + pad)
            .map_err(err)?;
        let mut mesh = chart.configure_mesh();
        let whole = |v: &f32| {
            if v.fract() == 0.0 {
                format!("{v:.0}")
            } else {
                String::new()
            }
        };
        if text {
            mesh.x_desc("epoch")
                .x_labels(history.epochs().clamp(2, 11))
                .x_label_formatter(&whole)
                .label_style((FAMILY, 14));
        } else {
            mesh.x_labels(0).y_labels(0);
        }
        mesh.draw().map_err(err)?;
        let points = |col: &[f32]| -> Vec<(f32, f32)> {
            col.iter()
                .enumerate()
                .map(|(i, &v)| ((i + 1) as f32, v))
                .collect()
        };
        let series = [("training", Some(train), BLUE), ("validation", val, RED)];
        for (label, col, colour) in series {
            let Some(col) = col else { continue };
            let line = LineSeries::new(points(col), colour.stroke_width(2));
            let drawn = chart.draw_series(line).map_err(err)?;
            if text {
                drawn.label(label).legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2))
                });
            }
        }
        if text {
            chart
                .configure_series_labels()
                .label_font((FAMILY, 14))
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .draw()
                .map_err(err)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::history::Logs;

    #[test]
    fn curves_without_a_font_still_draw_lines() {
        let mut h = History::default();
        for (l, a) in [(1.0, 0.3), (0.5, 0.6)] {
            h.push(&Logs::new(vec![("loss".into(), l), ("accuracy".into(), a)]));
        }
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, (960, 360)).into_drawing_area();
            draw(&root, &h, &h.panels(), false).expect("draws");
            root.present().expect("presents");
        }
        assert_eq!(svg.matches("<polyline").count(), 2, "{svg}");
        assert!(!svg.contains("<text"));
    }
}
