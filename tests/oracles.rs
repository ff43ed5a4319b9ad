//! Queueing-theory oracles: on models simple enough to have closed forms
//! (M/M/1, M/M/c, M/D/1) the simulator must reproduce the textbook means,
//! and on any model its metrics must obey Little's law.
//!
//! Every run here covers about a million requests or more after a warm-up,
//! so the sampling error of a mean is around 1 %; tolerances are set at
//! roughly three to four standard errors (estimated from the asymptotic
//! variance of the queue-length process, and checked over several seeds),
//! so a real bias of a few percent fails while a fair run passes. Runs are
//! seeded, so each assertion is deterministic.

use faultline::observe::metrics::Row;
use faultline::sim::RunSummary;
use faultline::topology::Component;
use faultline::topology::Topology;

use crate::common::*;

// ----- closed forms -----------------------------------------------------------

/// Erlang C: probability that an arrival to an M/M/c queue with offered load
/// `a` = λ/μ (in Erlangs, a < c) has to wait.
///
///   P_wait = (a^c / c!) · c/(c − a)  /  ( Σ_{k<c} a^k/k!  +  (a^c / c!) · c/(c − a) )
///
/// Terms are built incrementally (a^k/k! = a^(k−1)/(k−1)! · a/k) so nothing
/// overflows for any c a test would use.
fn erlang_c(c: u32, a: f64) -> f64 {
    assert!(a < c as f64, "the queue must be stable");
    let mut term = 1.0; // a^0 / 0!
    let mut below = 0.0;
    for k in 0..c {
        below += term;
        term *= a / (k + 1) as f64; // becomes a^(k+1)/(k+1)!
    }
    // `term` is now a^c / c!.
    let top = term * c as f64 / (c as f64 - a);
    top / (below + top)
}

/// Mean wait in queue of M/M/c: Wq = P_wait / (cμ − λ) (seconds).
fn mmc_wq(c: u32, lambda: f64, mu: f64) -> f64 {
    erlang_c(c, lambda / mu) / (c as f64 * mu - lambda)
}

fn relative_error(measured: f64, expected: f64) -> f64 {
    (measured - expected).abs() / expected.abs()
}

// ----- models and measurements ----------------------------------------------

/// One service with one instance of `workers` workers, a queue that never
/// fills, one endpoint whose work is `work` (model JSON), Poisson arrivals.
fn single_queue(workers: u32, work: &str, rate_per_s: f64) -> Topology {
    topology(&format!(
        r#"{{
            "name": "single-queue",
            "zones": ["z"],
            "services": {{
                "s": {{
                    "workers": {workers},
                    "queue": 4000000000,
                    "endpoints": {{ "e": {{ "work": {work} }} }}
                }}
            }},
            "workload": {{ "w": {{ "endpoint": "s.e", "rate": "{rate_per_s}/s" }} }}
        }}"#
    ))
}

fn service_id(t: &Topology, name: &str) -> u32 {
    t.services.iter().position(|s| s.name == name).unwrap() as u32
}

fn endpoint_id(t: &Topology, full_name: &str) -> u32 {
    t.endpoints
        .iter()
        .position(|e| e.full_name == full_name)
        .unwrap() as u32
}

/// The rows of one component from the end of the warm-up on.
fn rows_after(rows: &[Row], component: Component, warmup_s: u64) -> Vec<&Row> {
    rows.iter()
        .filter(|r| r.component == component && r.window_start >= warmup_s * SECOND)
        .collect()
}

/// Run-wide figures of one service (one endpoint) after the warm-up, all
/// read from the 1 s metrics rows. Windows are all 1 s long, so the plain
/// mean of per-window time-averages is the exact time-average.
#[derive(Debug)]
struct Measured {
    /// Completions per second.
    throughput: f64,
    /// Mean latency (arrival at the instance → completion), seconds: Σ of
    /// per-window exact means × completions / Σ completions.
    w: f64,
    /// Mean wait for a worker, seconds. A row gives the exact mean wait of
    /// the requests that *started* in its window but not their count; the
    /// count differs from the window's completions by at most the number of
    /// workers (those in service at either edge), so weighting by
    /// completions is exact to ~c/(λ·1 s) per window, and the edge effects
    /// cancel over the run.
    wq: f64,
    /// Time-average of workers busy / worker capacity.
    utilisation: f64,
    /// Time-average number in the service: queued + in service.
    l: f64,
    /// Time-average number queued.
    lq: f64,
}

fn measure(t: &Topology, rows: &[Row], service: &str, endpoint: &str, warmup_s: u64) -> Measured {
    let s = rows_after(rows, Component::Service(service_id(t, service)), warmup_s);
    let e = rows_after(
        rows,
        Component::Endpoint(endpoint_id(t, endpoint)),
        warmup_s,
    );
    let windows = s.len() as f64;
    let ok: u64 = s.iter().map(|r| r.ok).sum();
    let latency_sum: f64 = s.iter().map(|r| r.latency.mean * r.ok as f64).sum();
    let endpoint_ok: u64 = e.iter().map(|r| r.ok).sum();
    let wait_sum: f64 = e.iter().map(|r| r.mean_wait * r.ok as f64).sum();
    Measured {
        throughput: ok as f64 / windows,
        w: latency_sum / ok as f64 / 1e9,
        wq: wait_sum / endpoint_ok as f64 / 1e9,
        utilisation: s.iter().map(|r| r.busy.0 / r.capacity as f64).sum::<f64>() / windows,
        l: s.iter().map(|r| r.queue.0 + r.busy.0).sum::<f64>() / windows,
        lq: s.iter().map(|r| r.queue.0).sum::<f64>() / windows,
    }
}

/// Exact mean sojourn (seconds) of the first workload's requests that
/// completed in the windows after the warm-up (`RunSummary::entries` sums
/// those windows; latency_sum/ok is an exact mean, not a histogram one).
fn summary_w(summary: &RunSummary) -> f64 {
    let o = &summary.entries[0];
    assert!(
        o.ok > 1_000_000,
        "expected over a million requests, got {}",
        o.ok
    );
    assert_eq!(o.error_count(), 0, "nothing can fail in an unbounded queue");
    o.latency_sum as f64 / o.ok as f64 / 1e9
}

// ----- M/M/1 -------------------------------------------------------------------

#[test]
fn mm1_matches_closed_forms() {
    // λ = 800/s, μ = 1000/s (mean work 1 ms), one worker: ρ = λ/μ = 0.8.
    //   W  = 1/(μ − λ)  = 1/200 s = 5 ms
    //   Wq = ρ/(μ − λ)  = 0.8/200 s = 4 ms
    //   L  = ρ/(1 − ρ)  = 4, Lq = ρ²/(1 − ρ) = 3.2
    //   utilisation = ρ = 0.8
    // 1350 s after warm-up ≈ 1.08 M requests. The asymptotic variance of
    // the time-average of an M/M/1 queue length is ≈ 2ρ(1+ρ)/(1−ρ)⁴ in units
    // of 1/μ, i.e. 1800/1.35e6 → sd(L̄) ≈ 0.037, about 0.9 % of L; over 40
    // seeds the sd of W/W_theory was 0.73 % (mean 0.9999). W within 3 % and
    // Wq, Lq within 4 % are about 4 sd.
    let (lambda, mu) = (800.0, 1000.0);
    let rho: f64 = lambda / mu;
    let t = single_queue(1, r#"{ "exponential": { "mean": "1ms" } }"#, lambda);
    let (summary, rec) = run(&t, 11, 1400, 50);
    let m = measure(&t, &rec.rows, "s", "s.e", 50);

    let w = summary_w(&summary);
    let w_theory = 1.0 / (mu - lambda);
    let wq_theory = rho / (mu - lambda);
    println!(
        "M/M/1 ρ=0.8: W {:.4} ms (theory {:.4}), Wq {:.4} ms (theory {:.4}), util {:.4} (ρ {rho}), L {:.4} (theory {:.4}), Lq {:.4} (theory {:.4})",
        w * 1e3,
        w_theory * 1e3,
        m.wq * 1e3,
        wq_theory * 1e3,
        m.utilisation,
        m.l,
        rho / (1.0 - rho),
        m.lq,
        rho * rho / (1.0 - rho)
    );
    assert!(relative_error(w, w_theory) < 0.03, "W {w} vs {w_theory}");
    assert!(
        relative_error(m.w, w_theory) < 0.03,
        "rows' W {} vs {w_theory}",
        m.w
    );
    assert!(
        relative_error(m.wq, wq_theory) < 0.04,
        "Wq {} vs {wq_theory}",
        m.wq
    );
    // The busy fraction has a far smaller variance than the queue length.
    assert!(
        relative_error(m.utilisation, rho) < 0.01,
        "utilisation {}",
        m.utilisation
    );
    assert!(relative_error(m.l, rho / (1.0 - rho)) < 0.03, "L {}", m.l);
    assert!(
        relative_error(m.lq, rho * rho / (1.0 - rho)) < 0.04,
        "Lq {}",
        m.lq
    );
    // The work itself averages 1 ms: W − Wq ≈ 1/μ.
    assert!(
        relative_error(m.w - m.wq, 1.0 / mu) < 0.01,
        "W − Wq {}",
        m.w - m.wq
    );
}

// ----- M/M/c (Erlang C) ------------------------------------------------------

#[test]
fn erlang_c_reference_values() {
    // For c = 1 it is ρ (an arrival waits iff the server is busy, PASTA).
    assert!((erlang_c(1, 0.8) - 0.8).abs() < 1e-12);
    // c = 2, a = 1: (1/2 · 2/1) / (1 + 1 + 1) = 1/3.
    assert!((erlang_c(2, 1.0) - 1.0 / 3.0).abs() < 1e-12);
    // Published tables: C(10, 8) ≈ 0.4092.
    assert!((erlang_c(10, 8.0) - 0.4092).abs() < 5e-4);
}

/// Runs an M/M/c with mean work 1 ms (μ = 1000/s per worker) at arrival
/// rate λ and checks Wq, W, utilisation and Lq against Erlang C.
fn check_mmc(c: u32, lambda: f64, duration_s: u64, seed: u64, tolerance: f64) {
    let mu = 1000.0;
    let a = lambda / mu;
    let rho = a / c as f64;
    let t = single_queue(c, r#"{ "exponential": { "mean": "1ms" } }"#, lambda);
    let warmup = 20;
    let (summary, rec) = run(&t, seed, duration_s, warmup);
    let m = measure(&t, &rec.rows, "s", "s.e", warmup);

    let p_wait = erlang_c(c, a);
    let wq_theory = mmc_wq(c, lambda, mu); // P_wait / (cμ − λ)
    let w_theory = wq_theory + 1.0 / mu; // W = Wq + 1/μ
    let lq_theory = lambda * wq_theory; // Lq = λ Wq
    let w = summary_w(&summary);
    println!(
        "M/M/{c} ρ={rho:.2}: P_wait {p_wait:.4}; Wq {:.4} ms (theory {:.4}), W {:.4} ms (theory {:.4}), util {:.4} (ρ {rho:.4}), Lq {:.4} (theory {:.4}), throughput {:.1}/s",
        m.wq * 1e3,
        wq_theory * 1e3,
        w * 1e3,
        w_theory * 1e3,
        m.utilisation,
        m.lq,
        lq_theory,
        m.throughput
    );
    assert!(
        relative_error(m.wq, wq_theory) < tolerance,
        "Wq {} vs {wq_theory}",
        m.wq
    );
    assert!(
        relative_error(w, w_theory) < tolerance,
        "W {w} vs {w_theory}"
    );
    assert!(
        relative_error(m.lq, lq_theory) < tolerance,
        "Lq {} vs {lq_theory}",
        m.lq
    );
    assert!(
        relative_error(m.utilisation, rho) < 0.01,
        "utilisation {}",
        m.utilisation
    );
    assert!(
        relative_error(m.throughput, lambda) < 0.01,
        "throughput {}",
        m.throughput
    );
}

#[test]
fn mm8_at_rho_0_9_matches_erlang_c() {
    // c = 8, λ = 7200/s, μ = 1000/s: a = 7.2 Erlangs, ρ = 0.9.
    // P_wait = C(8, 7.2) ≈ 0.7015, Wq = P_wait/(8000 − 7200) ≈ 0.877 ms,
    // W = Wq + 1 ms ≈ 1.877 ms. 600 s ≈ 4.2 M requests after warm-up; over
    // ten seeds of 300 s the sd of Wq/theory was ≈ 1.5 %, so ≈ 1.05 % here
    // and 4 % is about 4 sd.
    check_mmc(8, 7200.0, 600, 21, 0.04);
}

#[test]
fn mm4_at_rho_0_7_matches_erlang_c() {
    // c = 4, λ = 2800/s, μ = 1000/s: a = 2.8 Erlangs, ρ = 0.7.
    // P_wait = C(4, 2.8) ≈ 0.4287, Wq = P_wait/(4000 − 2800) ≈ 0.357 ms,
    // W ≈ 1.357 ms. 800 s ≈ 2.2 M requests after warm-up; sd of Wq/theory
    // ≈ 1.1 % at 400 s over ten seeds, so ≈ 0.8 % here: 4 % is 5 sd.
    check_mmc(4, 2800.0, 800, 22, 0.04);
}

// ----- M/D/1 (Pollaczek–Khinchine) ------------------------------------------

#[test]
fn md1_matches_pollaczek_khinchine() {
    // Constant work 1 ms (μ = 1000/s, service-time variance 0), λ = 800/s.
    // Pollaczek–Khinchine: Wq = λ E[S²] / (2(1 − ρ)) = ρ/(2μ(1 − ρ))
    //   = 0.8/(2 · 1000 · 0.2) s = 2 ms, half the M/M/1 wait; W = 3 ms.
    let (lambda, mu) = (800.0, 1000.0);
    let rho: f64 = lambda / mu;
    let t = single_queue(1, r#"{ "constant": "1ms" }"#, lambda);
    let (summary, rec) = run(&t, 31, 1400, 50);
    let m = measure(&t, &rec.rows, "s", "s.e", 50);
    let wq_theory = rho / (2.0 * mu * (1.0 - rho));
    let w_theory = wq_theory + 1.0 / mu;
    let w = summary_w(&summary);
    println!(
        "M/D/1 ρ=0.8: Wq {:.4} ms (theory {:.4}), W {:.4} ms (theory {:.4}), util {:.4}",
        m.wq * 1e3,
        wq_theory * 1e3,
        w * 1e3,
        w_theory * 1e3,
        m.utilisation
    );
    // Over ten seeds the sd of Wq/theory was ≈ 0.6 % and of W/theory 0.5 %.
    assert!(
        relative_error(m.wq, wq_theory) < 0.03,
        "Wq {} vs {wq_theory}",
        m.wq
    );
    assert!(relative_error(w, w_theory) < 0.02, "W {w} vs {w_theory}");
    // Every request works exactly 1 ms, so W − Wq is 1 ms up to the
    // completions-for-starts weighting of the rows.
    assert!(
        relative_error(m.w - m.wq, 1.0 / mu) < 0.001,
        "W − Wq {}",
        m.w - m.wq
    );
    assert!(
        relative_error(m.utilisation, rho) < 0.01,
        "utilisation {}",
        m.utilisation
    );
}

// ----- Little's law ---------------------------------------------------------

/// L = λW for one service, with L the time-average of queued + busy from the
/// service rows, λ its completions per second and W its mean latency. Little's
/// law holds on every sample path up to what is in the system at the edges of
/// the measured interval, so the agreement is far tighter than the sampling
/// error of either side.
fn check_little(t: &Topology, rows: &[Row], service: &str, endpoint: &str, warmup_s: u64) {
    let m = measure(t, rows, service, endpoint, warmup_s);
    let lambda_w = m.throughput * m.w;
    println!(
        "Little {service}: L {:.4}, λ {:.1}/s, W {:.4} ms, λW {:.4}",
        m.l,
        m.throughput,
        m.w * 1e3,
        lambda_w
    );
    assert!(
        relative_error(m.l, lambda_w) < 0.005,
        "{service}: L {} vs λW {lambda_w}",
        m.l
    );
}

#[test]
fn littles_law_holds_on_an_mmc_queue() {
    let t = single_queue(8, r#"{ "exponential": { "mean": "1ms" } }"#, 7200.0);
    let (_, rec) = run(&t, 41, 100, 10);
    check_little(&t, &rec.rows, "s", "s.e", 10);
}

#[test]
fn littles_law_holds_for_both_tiers_of_a_two_tier_model() {
    // A front service that works 0.5 ms (exponential) and then calls a back
    // service (log-normal 2 ms, p99 8 ms) holding its worker meanwhile. The
    // front's L counts requests waiting for the back; its W includes the
    // call, so Little must hold for each tier separately.
    let t = topology(
        r#"{
            "name": "two-tier",
            "zones": ["z"],
            "services": {
                "front": {
                    "instances": { "count": 2 },
                    "workers": 8,
                    "queue": 100000,
                    "load_balancer": { "policy": "round_robin" },
                    "endpoints": {
                        "get": {
                            "work": { "exponential": { "mean": "500us" } },
                            "calls": { "read": { "to": "back.read" } }
                        }
                    }
                },
                "back": {
                    "instances": { "count": 3 },
                    "workers": 4,
                    "queue": 100000,
                    "load_balancer": { "policy": "least_outstanding" },
                    "endpoints": {
                        "read": { "work": { "lognormal": { "mean": "2ms", "p99": "8ms" } } }
                    }
                }
            },
            "workload": { "w": { "endpoint": "front.get", "rate": "4800/s" } }
        }"#,
    );
    let (summary, rec) = run(&t, 42, 150, 10);
    assert_eq!(summary.entries[0].error_count(), 0);
    check_little(&t, &rec.rows, "front", "front.get", 10);
    check_little(&t, &rec.rows, "back", "back.read", 10);
    // The back's offered load is 4800/s × 2 ms = 9.6 of 12 workers: ρ = 0.8.
    let back = measure(&t, &rec.rows, "back", "back.read", 10);
    assert!(
        relative_error(back.utilisation, 0.8) < 0.02,
        "{}",
        back.utilisation
    );
}
