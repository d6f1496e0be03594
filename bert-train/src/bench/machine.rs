//! The CPU a figure was measured on, named as `bench/machine.py` names it
//! for the Python side: `<model name> (family F model M), N cores, <vector
//! features>`.

use std::collections::HashMap;

/// The vector features that decide the kernels' speed, as `/proc/cpuinfo`
/// spells them.
const VECTOR_FEATURES: [&str; 9] = [
    "avx2",
    "fma",
    "avx512f",
    "avx512bw",
    "avx512_vnni",
    "avx512_bf16",
    "avx512_fp16",
    "amx_bf16",
    "amx_tile",
];

/// This machine's CPU: model, family and model numbers, cores and vector
/// features (from `/proc/cpuinfo`; "unknown CPU" where there is none).
pub fn describe_cpu() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    describe(&cpuinfo, cores)
}

/// [`describe_cpu`] from the text of `/proc/cpuinfo`.
fn describe(cpuinfo: &str, cores: usize) -> String {
    let mut fields = HashMap::new();
    for line in cpuinfo.lines() {
        if let Some((key, value)) = line.split_once(':') {
            fields.entry(key.trim()).or_insert(value.trim());
        }
    }
    let mut name = fields
        .get("model name")
        .map_or("unknown CPU".to_string(), |name| name.to_string());
    if let (Some(family), Some(model)) = (fields.get("cpu family"), fields.get("model")) {
        name.push_str(&format!(" (family {family} model {model})"));
    }
    let flags: Vec<&str> = fields
        .get("flags")
        .map_or(Vec::new(), |flags| flags.split_whitespace().collect());
    let features: Vec<&str> = VECTOR_FEATURES
        .into_iter()
        .filter(|feature| flags.contains(feature))
        .collect();
    let features = match features.is_empty() {
        true => "no AVX2".to_string(),
        false => features.join(" "),
    };
    format!("{name}, {cores} cores, {features}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_model_family_and_vector_features_in_a_fixed_order() {
        let cpuinfo = "processor\t: 0\nvendor_id\t: GenuineIntel\ncpu family\t: 6\n\
                       model\t\t: 207\nmodel name\t: Intel(R) Xeon(R) Platinum 8581C\n\
                       flags\t\t: fpu avx512_bf16 sse avx2 amx_tile avx512f fma\n\
                       processor\t: 1\nmodel name\t: ignored\n";
        assert_eq!(
            describe(cpuinfo, 2),
            "Intel(R) Xeon(R) Platinum 8581C (family 6 model 207), 2 cores, \
             avx2 fma avx512f avx512_bf16 amx_tile"
        );
        assert_eq!(describe("", 4), "unknown CPU, 4 cores, no AVX2");
    }
}
