//! Trend charts drawn on the server as SVG (so they work without
//! JavaScript), each followed by the same data as a table.

use kith_types::record::ResultSeries;
use leptos::prelude::*;

const W: f64 = 640.0;
const H: f64 = 240.0;
const LEFT: f64 = 48.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 32.0;
/// How each line of a chart is drawn. Lines differ in dash and mark shape
/// as well as colour, so they can be told apart without seeing colour
/// (WCAG 1.4.1); the legend says which is which in words.
struct LineStyle {
    colour: &'static str,
    /// SVG stroke-dasharray; empty for a solid line.
    dash: &'static str,
    square: bool,
    words: &'static str,
}

const STYLES: [LineStyle; 2] = [
    LineStyle { colour: "#005a9c", dash: "", square: false, words: "solid line, round dots" },
    LineStyle { colour: "#6f3f9c", dash: "7 4", square: true, words: "dashed line, square dots" },
];

/// A reading's mark: a dot, or a square for the second line.
fn mark(style: &LineStyle, cx: f64, cy: f64) -> AnyView {
    if style.square {
        view! { <rect x=cx - 3.5 y=cy - 3.5 width="7" height="7" fill=style.colour/> }.into_any()
    } else {
        view! { <circle cx=cx cy=cy r="3.5" fill=style.colour/> }.into_any()
    }
}

fn fmt(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

#[component]
pub fn TrendChart(series: ResultSeries) -> impl IntoView {
    let all: Vec<f64> =
        series.lines.iter().flat_map(|l| l.points.iter().flat_map(|p| [Some(p.value), p.min, p.max]).flatten()).chain(series.low).chain(series.high).collect();
    let (mut lo, mut hi) = (all.iter().cloned().fold(f64::MAX, f64::min), all.iter().cloned().fold(f64::MIN, f64::max));
    if (hi - lo).abs() < 1e-9 {
        lo -= 1.0;
        hi += 1.0;
    }
    let pad = (hi - lo) * 0.1;
    let (lo, hi) = (lo - pad, hi + pad);
    let days: Vec<i64> = series.lines.iter().flat_map(|l| l.points.iter().map(|p| p.day)).collect();
    let (d0, d1) = (*days.iter().min().unwrap_or(&0), *days.iter().max().unwrap_or(&1));
    let span = ((d1 - d0).max(1)) as f64;
    let x = move |day: i64| LEFT + (day - d0) as f64 / span * (W - LEFT - RIGHT);
    let y = move |v: f64| TOP + (hi - v) / (hi - lo) * (H - TOP - BOTTOM);

    let title_id = format!("chart-{}-title", series.id);
    let desc_id = format!("chart-{}-desc", series.id);
    let unit = series.unit.clone().unwrap_or_default();
    let range_text = match (series.low, series.high) {
        (Some(l), Some(h)) => format!("Normal range {} to {} {}.", fmt(l), fmt(h), unit),
        (None, Some(h)) => format!("Normal is below {} {}.", fmt(h), unit),
        (Some(l), None) => format!("Normal is above {} {}.", fmt(l), unit),
        _ => String::new(),
    };
    let first = series.lines.first().and_then(|l| l.points.first()).map(|p| p.when.clone()).unwrap_or_default();
    let last = series.lines.first().and_then(|l| l.points.last()).map(|p| p.when.clone()).unwrap_or_default();
    let desc = format!(
        "{} {} from {} to {}. {}{}",
        series.lines.first().map(|l| l.points.len()).unwrap_or(0),
        if series.daily { "daily summaries" } else { "readings" },
        first,
        last,
        range_text,
        if series.daily { " Each day shows the lowest, average and highest reading." } else { "" }
    );

    let band = match (series.low, series.high) {
        (None, None) => None,
        (l, h) => {
            let top = y(h.unwrap_or(hi));
            let bottom = y(l.unwrap_or(lo));
            Some(view! { <rect x=LEFT y=top width=W - LEFT - RIGHT height=(bottom - top).max(0.0) class="fill-green-100"/> })
        }
    };
    let ticks: Vec<f64> = (0..=4).map(|i| lo + (hi - lo) * i as f64 / 4.0).collect();
    let grid = ticks
        .iter()
        .map(|t| {
            let ty = y(*t);
            view! {
                <line x1=LEFT x2=W - RIGHT y1=ty y2=ty class="stroke-gray-200"/>
                <text x=LEFT - 6.0 y=ty + 4.0 text-anchor="end" class="fill-gray-700 text-[11px]">{fmt(*t)}</text>
            }
        })
        .collect::<Vec<_>>();

    // First and last dates under the axis.
    let first_label = series.lines.first().and_then(|l| l.points.first()).map(|p| p.when.split(' ').take(3).collect::<Vec<_>>().join(" ")).unwrap_or_default();
    let last_label = series.lines.first().and_then(|l| l.points.last()).map(|p| p.when.split(' ').take(3).collect::<Vec<_>>().join(" ")).unwrap_or_default();
    let axis = view! {
        <text x=LEFT y=H - 8.0 class="fill-gray-700 text-[11px]">{first_label}</text>
        <text x=W - RIGHT y=H - 8.0 text-anchor="end" class="fill-gray-700 text-[11px]">{last_label}</text>
    };
    let lines = series
        .lines
        .iter()
        .enumerate()
        .map(|(i, line)| {
            let style = &STYLES[i % STYLES.len()];
            let colour = style.colour;
            let path = line.points.iter().map(|p| format!("{:.1},{:.1}", x(p.day), y(p.value))).collect::<Vec<_>>().join(" ");
            let ranges = line
                .points
                .iter()
                .filter_map(|p| match (p.min, p.max) {
                    (Some(mn), Some(mx)) if series.daily => {
                        Some(view! { <line x1=x(p.day) x2=x(p.day) y1=y(mn) y2=y(mx) stroke=colour stroke-width="3" opacity="0.35"/> })
                    }
                    _ => None,
                })
                .collect::<Vec<_>>();
            let marks = line
                .points
                .iter()
                .map(|p| {
                    let (cx, cy) = (x(p.day), y(p.value));
                    if p.abnormal {
                        // Abnormal values: a larger red diamond, not colour alone.
                        let d = format!("M{:.1},{:.1} l6,6 l-6,6 l-6,-6 z", cx, cy - 6.0);
                        view! { <path d=d class="fill-red-700"/> }.into_any()
                    } else {
                        mark(style, cx, cy)
                    }
                })
                .collect::<Vec<_>>();
            let dash = (!style.dash.is_empty()).then_some(style.dash);
            view! { <polyline points=path fill="none" stroke=colour stroke-width="2" stroke-dasharray=dash/> {ranges} {marks} }
        })
        .collect::<Vec<_>>();

    let legend = (series.lines.len() > 1).then(|| {
        series
            .lines
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let style = &STYLES[i % STYLES.len()];
                let dash = (!style.dash.is_empty()).then_some(style.dash);
                view! {
                    <span class="mr-4" data-testid="legend-line">
                        <svg viewBox="0 0 28 10" width="28" height="10" class="inline-block mr-1 align-middle" aria-hidden="true">
                            <line x1="0" x2="28" y1="5" y2="5" stroke=style.colour stroke-width="2" stroke-dasharray=dash/>
                            {mark(style, 14.0, 5.0)}
                        </svg>
                        {format!("{} ({})", l.name, style.words)}
                    </span>
                }
            })
            .collect::<Vec<_>>()
    });

    // The same data as a table, for screen readers and for reading exact values.
    let table_rows = {
        let first = series.lines.first().cloned();
        let second = series.lines.get(1).cloned();
        first
            .map(|l| {
                l.points
                    .into_iter()
                    .enumerate()
                    .map(|(i, p)| {
                        let other = second.as_ref().and_then(|s| s.points.get(i)).map(|q| fmt(q.value));
                        let range = match (p.min, p.max) {
                            (Some(a), Some(b)) => Some(format!("{}–{} ({} readings)", fmt(a), fmt(b), p.count)),
                            _ => None,
                        };
                        view! {
                            <tr class=if p.abnormal { "font-bold text-red-800" } else { "" }>
                                <td>{p.when.clone()}</td>
                                <td>{fmt(p.value)}{other.map(|o| format!(" / {o}"))}</td>
                                {series.daily.then(|| view! { <td>{range.clone().unwrap_or_default()}</td> })}
                                <td>{if p.abnormal { "Outside normal range" } else { "" }}</td>
                            </tr>
                        }
                    })
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    };
    let value_heading = if series.lines.len() > 1 {
        format!("{} ({})", series.lines.iter().map(|l| l.name.clone()).collect::<Vec<_>>().join(" / "), unit)
    } else if series.daily {
        format!("Average ({unit})")
    } else {
        format!("Value ({unit})")
    };

    view! {
        <figure class="card" data-testid="trend-chart" data-series=series.name.clone()>
            <figcaption>
                <h2 id=title_id.clone() class="text-lg font-bold">{series.name.clone()}{(!unit.is_empty()).then(|| format!(" ({unit})"))}</h2>
                <p id=desc_id.clone() class="text-sm text-gray-800">{desc.clone()}</p>
                <p class="text-sm text-gray-700">"From "{series.sources.join(", ")}</p>
            </figcaption>
            <svg viewBox=format!("0 0 {W} {H}") class="w-full h-auto" role="img" aria-labelledby=format!("{title_id} {desc_id}")>
                {band}
                {grid}
                {axis}
                {lines}
            </svg>
            <p class="text-sm">{legend}{range_text.clone()}</p>
            <details class="mt-2">
                <summary class="cursor-pointer underline">"Show the readings as a table"</summary>
                <table class="data-table mt-2">
                    <caption class="sr-only">{series.name.clone()}</caption>
                    <thead>
                        <tr>
                            <th scope="col">"Date"</th>
                            <th scope="col">{value_heading}</th>
                            {series.daily.then(|| view! { <th scope="col">"Lowest–highest"</th> })}
                            <th scope="col">"Note"</th>
                        </tr>
                    </thead>
                    <tbody>{table_rows}</tbody>
                </table>
            </details>
        </figure>
    }
}
