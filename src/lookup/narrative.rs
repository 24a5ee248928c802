//! The lines the post prints while it finds users, in English and in the post's Korean.
//!
//! The post's `find_users_sync(n)` and `find_users_async(n)` print one line before each
//! lookup and one when all `n` users are found; `process_sync` and `process_async` print
//! the total time at the end:
//!
//! ```text
//! 3명 중 1번 째 사용자 조회 중 ...          looking up user 1 of 3 ...
//! > 총 3 명 사용자 동기 조회 완료!           > all 3 users found
//! >>> 동기 처리 총 소요 시간: 6.020         >>> sequential total time: 6.020 s
//! ```
//!
//! looplab's clients print the same lines at the same points, so a reader can hold the
//! program's output next to the post's. The order of the lines is itself the lesson:
//! sequential prints `1 of 3, 2 of 3, 3 of 3, 1 of 2, ...`; the event loop interleaves
//! the requests and the shortest finishes first.
//!
//! The Korean lines keep the post's wording, spacing and `>` / `>>>` markers. The post
//! says "동기" (synchronous) or "비동기" (asynchronous) in the "found" and "total" lines,
//! so those lines need to know how the users were found ([`LookupStyle`]) or which
//! client ran ([`Mode`]). The post has no threaded version; its line for the threads
//! client, "멀티 쓰레드 처리", is looplab's, in the post's style.

use std::time::Duration;

use super::report::Mode;

/// The language of the narrative lines: `--lang en` or `--lang ko` (clap's
/// `ValueEnum` derives the names from the variants).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Lang {
    /// English.
    #[default]
    En,
    /// Korean, in the source post's own words.
    Ko,
}

/// How a request's users were found: the word the post puts in its "found" line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LookupStyle {
    /// Blocking calls, one after another on the caller's thread: the post's
    /// `find_users_sync`. The sequential and the threads clients both work this way;
    /// the threads client just runs several of them at once.
    Sync,
    /// Awaited calls that give the loop back while they wait: `find_users_async`.
    Async,
}

/// The line before lookup `i` of `n` (counting from 1): the post's `print` inside its loop.
pub fn looking_up(lang: Lang, i: u32, n: u32) -> String {
    match lang {
        Lang::En => format!("looking up user {i} of {n} ..."),
        Lang::Ko => format!("{n}명 중 {i}번 째 사용자 조회 중 ..."),
    }
}

/// The line after the last of `n` lookups: the post's `print` after its loop.
pub fn all_found(lang: Lang, style: LookupStyle, n: u32) -> String {
    match lang {
        Lang::En => match n {
            1 => "> 1 user found".to_owned(),
            n => format!("> all {n} users found"),
        },
        Lang::Ko => {
            let style = match style {
                LookupStyle::Sync => "동기",
                LookupStyle::Async => "비동기",
            };
            format!("> 총 {n} 명 사용자 {style} 조회 완료!")
        }
    }
}

/// The last line of a run: the post's `process_sync` / `process_async` printing how long
/// all requests took together. Seconds with three decimals (the post prints the raw float).
pub fn total_time(lang: Lang, mode: Mode, total: Duration) -> String {
    let seconds = total.as_secs_f64();
    match lang {
        Lang::En => format!(">>> {} total time: {seconds:.3} s", mode.as_str()),
        Lang::Ko => {
            let how = match mode {
                Mode::Sequential => "동기",
                Mode::Threads => "멀티 쓰레드",
                Mode::EventLoop => "비동기",
            };
            format!(">>> {how} 처리 총 소요 시간: {seconds:.3}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lang_names_are_en_and_ko() {
        use clap::ValueEnum;
        assert_eq!(Lang::from_str("en", false), Ok(Lang::En));
        assert_eq!(Lang::from_str("ko", false), Ok(Lang::Ko));
        assert!(Lang::from_str("kr", false).is_err());
    }

    #[test]
    fn looking_up_counts_from_one() {
        assert_eq!(looking_up(Lang::En, 1, 3), "looking up user 1 of 3 ...");
        assert_eq!(
            looking_up(Lang::Ko, 2, 3),
            "3명 중 2번 째 사용자 조회 중 ..."
        );
    }

    #[test]
    fn all_found_gets_singular_and_plural_right_in_english() {
        assert_eq!(
            all_found(Lang::En, LookupStyle::Sync, 3),
            "> all 3 users found"
        );
        assert_eq!(all_found(Lang::En, LookupStyle::Async, 1), "> 1 user found");
    }

    #[test]
    fn all_found_in_korean_is_the_posts_line_for_each_style() {
        assert_eq!(
            all_found(Lang::Ko, LookupStyle::Sync, 3),
            "> 총 3 명 사용자 동기 조회 완료!"
        );
        assert_eq!(
            all_found(Lang::Ko, LookupStyle::Async, 1),
            "> 총 1 명 사용자 비동기 조회 완료!"
        );
    }

    #[test]
    fn total_time_names_the_mode() {
        let total = Duration::from_micros(6_020_449);
        assert_eq!(
            total_time(Lang::En, Mode::Sequential, total),
            ">>> sequential total time: 6.020 s"
        );
        assert_eq!(
            total_time(Lang::Ko, Mode::Sequential, total),
            ">>> 동기 처리 총 소요 시간: 6.020"
        );
        let total = Duration::from_millis(3003);
        assert_eq!(
            total_time(Lang::En, Mode::EventLoop, total),
            ">>> event-loop total time: 3.003 s"
        );
        assert_eq!(
            total_time(Lang::Ko, Mode::EventLoop, total),
            ">>> 비동기 처리 총 소요 시간: 3.003"
        );
        assert_eq!(
            total_time(Lang::Ko, Mode::Threads, total),
            ">>> 멀티 쓰레드 처리 총 소요 시간: 3.003"
        );
    }
}
