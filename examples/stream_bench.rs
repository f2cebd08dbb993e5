//! Live-bar benchmark client: many SSE subscribers on several tsapi instances while bars
//! are posted through the API at a steady rate; prints commit-to-subscriber latency, bars
//! lost and duplicated, and the servers' memory.
//!
//! ```sh
//! cargo run --release --example stream_bench -- apis=http://A,http://B [subs=1000]
//!     [symbols=500] [per_sub=1] [rate=10000] [batch=100] [seconds=30] [writers=4]
//!     [drop_after=10] [drop_for=10] [pids=PID,PID]
//! ```
//!
//! Bar `g` (a global counter) is of symbol `g % symbols` at second `g / symbols`, and goes
//! in batch `g / batch`; batch `b` is due `b * batch / rate` s after the start and is posted
//! (NDJSON to `/v1/bars`) to instance `b % instances`. Each subscriber takes `per_sub`
//! consecutive symbols; the two subscribers of a symbol sit on different instances, so
//! every delivery crosses the database's feed from at least one instance.
//!
//! Latency of a delivery is measured from the moment the POST of its batch was
//! acknowledged (the write had committed before then) and from the moment it was sent.
//! Subscriber 0 is cut off `drop_after` s into the run, stays away `drop_for` s and
//! resumes with `Last-Event-ID`; its bars are checked apart (and left out of latency).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, TimeDelta, Utc};

type Error = Box<dyn std::error::Error + Send + Sync>;

#[derive(Clone)]
struct Opts {
    apis: Vec<String>,
    subs: usize,
    symbols: usize,
    per_sub: usize,
    rate: f64,
    batch: usize,
    seconds: f64,
    writers: usize,
    drop_after: f64,
    drop_for: f64,
    pids: Vec<u32>,
}

fn opts() -> Result<Opts, Error> {
    let mut map: HashMap<String, String> = HashMap::new();
    for arg in std::env::args().skip(1) {
        let (k, v) = arg.split_once('=').ok_or(format!("not key=value: {arg}"))?;
        map.insert(k.to_owned(), v.to_owned());
    }
    let get = |k: &str, default: &str| map.get(k).cloned().unwrap_or_else(|| default.into());
    let list = |s: String| {
        s.split(',')
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    let o = Opts {
        apis: list(get("apis", "")),
        subs: get("subs", "1000").parse()?,
        symbols: get("symbols", "500").parse()?,
        per_sub: get("per_sub", "1").parse()?,
        rate: get("rate", "10000").parse()?,
        batch: get("batch", "100").parse()?,
        seconds: get("seconds", "30").parse()?,
        writers: get("writers", "4").parse()?,
        drop_after: get("drop_after", "10").parse()?,
        drop_for: get("drop_for", "10").parse()?,
        pids: list(get("pids", ""))
            .iter()
            .map(|p| p.parse())
            .collect::<Result<_, _>>()?,
    };
    if o.apis.is_empty() {
        return Err("apis=URL[,URL...] is required".into());
    }
    Ok(o)
}

fn unix_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

fn base() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-01-05T00:00:00Z")
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

fn symbol(i: usize) -> String {
    format!("B{i:04}")
}

/// What one subscriber saw.
#[derive(Default)]
struct Seen {
    /// (bar number, receive time µs, after the resume)
    bars: Vec<(u64, u64, bool)>,
    lagged: usize,
    /// `status` events saying the server lost the database.
    reconnecting: usize,
    gaps: usize,
    errors: usize,
}

/// One leg of a subscriber's connection: where it resumes, when it is cut.
struct Leg<'a> {
    since: Option<String>,
    cut: Option<Instant>,
    resumed: bool,
    ready: Option<&'a AtomicUsize>,
}

/// One SSE connection until `stop` (or the leg's cut); returns the last event id seen.
async fn follow(
    http: &reqwest::Client,
    url: &str,
    stop: &tokio::sync::watch::Receiver<bool>,
    leg: Leg<'_>,
    seen: &mut Seen,
    opts: &Opts,
) -> Result<Option<String>, Error> {
    let Leg {
        since,
        cut,
        resumed,
        ready,
    } = leg;
    let mut request = http.get(url);
    if let Some(id) = &since {
        request = request.header("last-event-id", id);
    }
    let mut response = request.send().await?;
    if !response.status().is_success() {
        return Err(format!("{url}: {}", response.status()).into());
    }
    if let Some(ready) = ready {
        ready.fetch_add(1, Ordering::Relaxed);
    }
    let symbols = opts.symbols as i64;
    let base = base();
    let mut last_id = since;
    let mut buffer = String::new();
    let mut stop = stop.clone();
    let far = Instant::now() + Duration::from_secs(86_400);
    loop {
        let deadline = cut.unwrap_or(far);
        let chunk = tokio::select! {
            _ = stop.wait_for(|s| *s) => return Ok(last_id),
            _ = tokio::time::sleep_until(deadline.into()) => return Ok(last_id),
            chunk = response.chunk() => chunk?,
        };
        let Some(chunk) = chunk else {
            return Ok(last_id);
        };
        let now = unix_us();
        buffer.push_str(std::str::from_utf8(&chunk)?);
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let (mut event, mut data, mut id) = ("", "", None);
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event:") {
                    event = v.trim();
                } else if let Some(v) = line.strip_prefix("data:") {
                    data = v.trim();
                } else if let Some(v) = line.strip_prefix("id:") {
                    id = Some(v.trim().to_owned());
                }
            }
            match event {
                "bar" | "updated_bar" => {
                    let bar: serde_json::Value = serde_json::from_str(data)?;
                    let sym: i64 = bar["symbol"].as_str().unwrap_or("")[1..].parse()?;
                    let time: DateTime<Utc> = bar["time"].as_str().unwrap_or("").parse()?;
                    let second = (time - base).num_seconds();
                    seen.bars
                        .push(((second * symbols + sym) as u64, now, resumed));
                    last_id = id;
                }
                "lagged" => seen.lagged += 1,
                "status" if data.contains("reconnecting") => seen.reconnecting += 1,
                "gap" => seen.gaps += 1,
                "error" => seen.errors += 1,
                _ => {}
            }
        }
    }
}

async fn subscriber(
    i: usize,
    http: reqwest::Client,
    opts: Arc<Opts>,
    start: Instant,
    stop: tokio::sync::watch::Receiver<bool>,
    ready: Arc<AtomicUsize>,
) -> Result<(usize, Seen), Error> {
    let first = i * opts.per_sub;
    let instance = (first / opts.symbols) % opts.apis.len();
    let list: Vec<String> = (0..opts.per_sub)
        .map(|j| symbol((first + j) % opts.symbols))
        .collect();
    let url = format!(
        "{}/v1/stream?symbols={}",
        opts.apis[instance],
        list.join(",")
    );
    let mut seen = Seen::default();
    let first_leg = Leg {
        since: None,
        cut: (i == 0 && opts.drop_for > 0.0)
            .then(|| start + Duration::from_secs_f64(opts.drop_after)),
        resumed: false,
        ready: Some(&*ready),
    };
    let cut = first_leg.cut.is_some();
    let last = follow(&http, &url, &stop, first_leg, &mut seen, &opts).await?;
    if cut {
        tokio::time::sleep(Duration::from_secs_f64(opts.drop_for)).await;
        let resume = Leg {
            since: last,
            cut: None,
            resumed: true,
            ready: None,
        };
        follow(&http, &url, &stop, resume, &mut seen, &opts).await?;
    }
    Ok((i, seen))
}

fn percentile(sorted: &[i64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let k = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[k] as f64 / 1000.0
}

fn rss_kb(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let opts = Arc::new(opts()?);
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()?;
    let rss_before: Vec<u64> = opts.pids.iter().map(|p| rss_kb(*p, "VmRSS")).collect();

    // Subscribers first: all connected before the first bar is posted at `start`.
    let ready = Arc::new(AtomicUsize::new(0));
    let total_batches = (opts.rate * opts.seconds / opts.batch as f64).ceil() as usize;
    let settle = Duration::from_secs_f64((opts.subs as f64 / 200.0).max(2.0));
    let start = Instant::now() + settle;
    // Subscribers stop 5 s after the last write was acknowledged.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut subs = Vec::new();
    for i in 0..opts.subs {
        let (http, opts, ready) = (http.clone(), opts.clone(), ready.clone());
        subs.push(tokio::spawn(subscriber(
            i,
            http,
            opts,
            start,
            stop_rx.clone(),
            ready,
        )));
        if i % 50 == 49 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    // Writers: batch b due at start + b * batch / rate, posted to instance b % instances.
    let send_us: Arc<Vec<AtomicU64>> =
        Arc::new((0..total_batches).map(|_| AtomicU64::new(0)).collect());
    let ack_us: Arc<Vec<AtomicU64>> =
        Arc::new((0..total_batches).map(|_| AtomicU64::new(0)).collect());
    let next = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let mut writers = Vec::new();
    for _ in 0..opts.writers * opts.apis.len() {
        let (opts, http, next, send_us, ack_us, failed) = (
            opts.clone(),
            http.clone(),
            next.clone(),
            send_us.clone(),
            ack_us.clone(),
            failed.clone(),
        );
        writers.push(tokio::spawn(async move {
            let base = base();
            loop {
                let b = next.fetch_add(1, Ordering::Relaxed);
                if b >= total_batches {
                    return;
                }
                let due = start + Duration::from_secs_f64(b as f64 * opts.batch as f64 / opts.rate);
                tokio::time::sleep_until(due.into()).await;
                let mut body = String::with_capacity(opts.batch * 150);
                for g in b * opts.batch..(b + 1) * opts.batch {
                    let time = base + TimeDelta::seconds((g / opts.symbols) as i64);
                    body.push_str(&format!(
                        "{{\"time\":\"{}\",\"symbol\":\"{}\",\"price_open\":1.0,\"price_high\":2.0,\"price_low\":0.5,\"price_close\":1.5,\"trading_volume\":{g}}}\n",
                        time.format("%Y-%m-%dT%H:%M:%SZ"),
                        symbol(g % opts.symbols)
                    ));
                }
                let api = &opts.apis[b % opts.apis.len()];
                send_us[b].store(unix_us(), Ordering::Relaxed);
                let answer = http
                    .post(format!("{api}/v1/bars"))
                    .header("content-type", "application/x-ndjson")
                    .body(body)
                    .send()
                    .await;
                match answer {
                    Ok(r) if r.status().is_success() => {
                        ack_us[b].store(unix_us(), Ordering::Relaxed);
                    }
                    Ok(r) => {
                        failed.fetch_add(1, Ordering::Relaxed);
                        eprintln!("batch {b}: {}", r.status());
                    }
                    Err(e) => {
                        failed.fetch_add(1, Ordering::Relaxed);
                        eprintln!("batch {b}: {e}");
                    }
                }
            }
        }));
    }
    let mut rss_peak: Vec<u64> = rss_before.clone();
    let sampler = {
        let pids = opts.pids.clone();
        let stop = stop_rx.clone();
        tokio::spawn(async move {
            let mut peak = vec![0u64; pids.len()];
            while !*stop.borrow() {
                for (k, pid) in pids.iter().enumerate() {
                    peak[k] = peak[k].max(rss_kb(*pid, "VmRSS"));
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            peak
        })
    };
    tokio::time::sleep_until(start.into()).await;
    let connected = ready.load(Ordering::Relaxed);
    for w in writers {
        w.await?;
    }
    let wrote_secs = start.elapsed().as_secs_f64();
    // Room for the last deliveries, and for the cut-off subscriber to come back and catch
    // up even when the writes end before it returns.
    let grace = Duration::from_secs(5);
    let back = start + Duration::from_secs_f64(opts.drop_after + opts.drop_for.max(0.0));
    tokio::time::sleep_until((Instant::now() + grace).max(back + grace).into()).await;
    stop_tx.send(true)?;
    let mut results = Vec::new();
    for s in subs {
        results.push(s.await??);
    }
    for (k, p) in sampler.await?.into_iter().enumerate() {
        rss_peak[k] = rss_peak[k].max(p);
    }

    // Which bars were written (acknowledged), and when.
    let ok: Vec<bool> = ack_us
        .iter()
        .map(|a| a.load(Ordering::Relaxed) > 0)
        .collect();
    let written = ok.iter().filter(|o| **o).count() * opts.batch;
    let mut per_symbol = vec![0usize; opts.symbols];
    for g in 0..total_batches * opts.batch {
        if ok[g / opts.batch] {
            per_symbol[g % opts.symbols] += 1;
        }
    }
    let mut from_ack = Vec::new();
    let mut from_send = Vec::new();
    let (mut lost, mut dup, mut lagged, mut gaps, mut errors) = (0usize, 0usize, 0, 0, 0);
    let (mut unacknowledged, mut reconnecting) = (0usize, 0usize);
    let (mut resumed_lost, mut resumed_dup, mut resumed_after) = (0usize, 0usize, 0usize);
    for (i, seen) in &results {
        lagged += seen.lagged;
        reconnecting += seen.reconnecting;
        gaps += seen.gaps;
        errors += seen.errors;
        let first = i * opts.per_sub;
        let mine: HashSet<usize> = (0..opts.per_sub)
            .map(|j| (first + j) % opts.symbols)
            .collect();
        let expected: usize = mine.iter().map(|s| per_symbol[*s]).sum();
        let mut got = HashSet::new();
        let mut dups = 0;
        for &(g, recv, after_resume) in &seen.bars {
            if !got.insert(g) {
                dups += 1;
            }
            let b = g as usize / opts.batch;
            if *i != 0 && b < total_batches && ok[b] {
                from_ack.push(recv as i64 - ack_us[b].load(Ordering::Relaxed) as i64);
                from_send.push(recv as i64 - send_us[b].load(Ordering::Relaxed) as i64);
            }
            if after_resume {
                resumed_after += 1;
            }
        }
        // Bars of a batch whose POST failed may still have been stored (the answer was lost,
        // not the commit): they are counted apart, never against the acknowledged ones.
        let acknowledged = got
            .iter()
            .filter(|g| ok.get(**g as usize / opts.batch).copied().unwrap_or(false))
            .count();
        unacknowledged += got.len() - acknowledged;
        let missing = expected.saturating_sub(acknowledged);
        if *i == 0 && opts.drop_for > 0.0 {
            resumed_lost = missing;
            resumed_dup = dups;
        } else {
            lost += missing;
            dup += dups;
        }
    }
    from_ack.sort_unstable();
    from_send.sort_unstable();
    let deliveries = from_ack.len();
    println!(
        "subscribers={} connected={connected} instances={} symbols={} per_sub={} batch={} writers={}",
        opts.subs,
        opts.apis.len(),
        opts.symbols,
        opts.per_sub,
        opts.batch,
        opts.writers * opts.apis.len()
    );
    println!(
        "target_rate={} written_bars={written} failed_batches={} achieved_rate={:.0} deliveries={deliveries}",
        opts.rate,
        failed.load(Ordering::Relaxed),
        written as f64 / wrote_secs
    );
    println!(
        "latency_after_ack_ms p50={:.1} p99={:.1} max={:.1}",
        percentile(&from_ack, 0.5),
        percentile(&from_ack, 0.99),
        percentile(&from_ack, 1.0)
    );
    println!(
        "latency_from_send_ms p50={:.1} p99={:.1} max={:.1}",
        percentile(&from_send, 0.5),
        percentile(&from_send, 0.99),
        percentile(&from_send, 1.0)
    );
    println!("lost={lost} duplicated={dup} lagged={lagged} gaps={gaps} errors={errors}");
    println!("told_reconnecting={reconnecting} delivered_from_failed_posts={unacknowledged}");
    if opts.drop_for > 0.0 {
        println!(
            "resumed_subscriber away_s={} lost={resumed_lost} duplicated={resumed_dup} bars_after_resume={resumed_after}",
            opts.drop_for
        );
    }
    for (k, pid) in opts.pids.iter().enumerate() {
        println!(
            "server{k} rss_before_kb={} rss_peak_kb={} vmhwm_kb={}",
            rss_before[k],
            rss_peak[k],
            rss_kb(*pid, "VmHWM")
        );
    }
    Ok(())
}
