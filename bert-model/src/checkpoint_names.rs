//! Checkpoint names: how Hugging Face names a family's weights and how
//! this crate's module paths map to them, both ways. The loaders, the saver
//! and peft's adapters use these names; so does LoRA to match its targets.

use burn::store::KeyRemapper;

use crate::config::ModelFamily;
use crate::heads::TaskHead;

/// Checkpoint names of a task model to module paths: the head's names to
/// `head.*`, the encoder's (with or without its prefix) to `bert.*`.
pub(crate) fn task_remapper<H: TaskHead>(head: &H, family: ModelFamily) -> KeyRemapper {
    let head_prefixes = H::CHECKPOINT_PREFIXES.join("|");
    let head_pattern = format!("^({head_prefixes})\\.");
    let encoder_prefix = format!("^{}\\.", family.weight_prefix());
    let mut task_patterns = head.checkpoint_names();
    if task_patterns.is_empty() {
        task_patterns.push((head_pattern.as_str(), "head.$1."));
    }
    task_patterns.extend([
        (encoder_prefix.as_str(), "bert."),
        (
            "^(embeddings|embeddings_project|encoder|transformer|pooler|layers|final_norm)\\.",
            "bert.$1.",
        ),
    ]);
    key_remapper(family, &task_patterns)
}

/// DistilBERT's names of the encoder's blocks, as `(checkpoint, ours)` pieces.
const DISTILBERT_NAMES: [(&str, &str); 9] = [
    (".transformer.layer.", ".encoder.layer."),
    (".attention.q_lin.", ".attention.self_attention.query."),
    (".attention.k_lin.", ".attention.self_attention.key."),
    (".attention.v_lin.", ".attention.self_attention.value."),
    (".attention.out_lin.", ".attention.output.dense."),
    (".sa_layer_norm.", ".attention.output.layer_norm."),
    (".ffn.lin1.", ".intermediate.dense."),
    (".ffn.lin2.", ".output.dense."),
    (".output_layer_norm.", ".output.layer_norm."),
];

/// MPNet's names of the attention block, as `(checkpoint, ours)` pieces.
const MPNET_NAMES: [(&str, &str); 5] = [
    (".attention.attn.q.", ".attention.self_attention.query."),
    (".attention.attn.k.", ".attention.self_attention.key."),
    (".attention.attn.v.", ".attention.self_attention.value."),
    (".attention.attn.o.", ".attention.output.dense."),
    (".attention.LayerNorm.", ".attention.output.layer_norm."),
];

/// ModernBERT's capitalised projection names, as `(checkpoint, ours)` pieces.
const MODERNBERT_NAMES: [(&str, &str); 4] = [
    (".attn.Wqkv.", ".attn.wqkv."),
    (".attn.Wo.", ".attn.wo."),
    (".mlp.Wi.", ".mlp.wi."),
    (".mlp.Wo.", ".mlp.wo."),
];

/// The names of `family` that differ from BERT's, applied before BERT's.
fn family_names(family: ModelFamily) -> &'static [(&'static str, &'static str)] {
    match family {
        ModelFamily::DistilBert => &DISTILBERT_NAMES,
        ModelFamily::MpNet => &MPNET_NAMES,
        ModelFamily::ModernBert => &MODERNBERT_NAMES,
        _ => &[],
    }
}

/// BERT's names that differ from this crate's field names.
const BERT_NAMES: [(&str, &str); 2] = [
    (".attention.self.", ".attention.self_attention."),
    (".LayerNorm.", ".layer_norm."),
];

fn escaped(piece: &str) -> String {
    piece.replace('.', "\\.")
}

/// Checkpoint names to module paths: `task_patterns` first (prefixes and
/// the head's names), then the family's block names.
pub(crate) fn key_remapper(family: ModelFamily, task_patterns: &[(&str, &str)]) -> KeyRemapper {
    // An encoder read without its prefix starts with `transformer.`.
    let unprefixed = (family == ModelFamily::DistilBert)
        .then(|| ("^transformer\\.".to_string(), "encoder.".to_string()));
    let patterns: Vec<(String, String)> = task_patterns
        .iter()
        .map(|(pattern, path)| (pattern.to_string(), path.to_string()))
        .chain(unprefixed)
        .chain(
            family_names(family)
                .iter()
                .chain(&BERT_NAMES)
                .map(|(theirs, ours)| (escaped(theirs), ours.to_string())),
        )
        .collect();
    KeyRemapper::from_pattern_iter(patterns).expect("checkpoint key patterns are valid regexes")
}

/// Marks a name the head's patterns have already given its checkpoint form,
/// so that no later pattern (the `head.` strip) touches it; removed last.
const FINAL_NAME: &str = "~";

/// Module paths to checkpoint names, the inverse of [`key_remapper`]: the
/// family's block names and BERT's, then the head's fields back to its
/// names, then the encoder under the family's prefix (`prefixed`, as
/// transformers names a model with a head) or without it (a base model).
pub(crate) fn saved_names(
    family: ModelFamily,
    head_names: &[(&str, &str)],
    prefixed: bool,
) -> KeyRemapper {
    let block_names = family_names(family).iter().chain(&BERT_NAMES);
    let mut patterns: Vec<(String, String)> = block_names
        .clone()
        .map(|(theirs, ours)| (escaped(ours), theirs.to_string()))
        .collect();
    // The head's paths as the block renames above have left them.
    let renamed = |path: &str| {
        block_names
            .clone()
            .fold(path.to_string(), |path, (theirs, ours)| {
                path.replace(ours, theirs)
            })
    };
    let unescaped = |pattern: &str| pattern.trim_start_matches('^').replace("\\.", ".");
    patterns.extend(head_names.iter().map(|(theirs, ours)| {
        (
            format!("^{}", escaped(&renamed(ours))),
            format!("{FINAL_NAME}{}", unescaped(theirs)),
        )
    }));
    patterns.push(("^head\\.".into(), String::new()));
    let encoder_prefix = match prefixed {
        true => format!("{}.", family.weight_prefix()),
        false => String::new(),
    };
    patterns.push(("^bert\\.".into(), encoder_prefix));
    patterns.push((format!("^{FINAL_NAME}"), String::new()));
    KeyRemapper::from_pattern_iter(patterns).expect("checkpoint key patterns are valid regexes")
}

/// The Hugging Face name of the encoder module at `path` (`encoder.layer.0.attention.self_attention.query`
/// to `bert.encoder.layer.0.attention.self.query` for BERT), as peft names it.
pub(crate) fn checkpoint_module_name(family: ModelFamily, path: &str) -> String {
    let name = renamed(
        &saved_names(family, &[], true),
        &format!("bert.{path}.weight"),
    );
    name.strip_suffix(".weight").unwrap_or(&name).to_string()
}

/// `name` after every pattern of `remapper`, in order, as the stores apply them.
pub(crate) fn renamed(remapper: &KeyRemapper, name: &str) -> String {
    remapper
        .to_regex_pairs()
        .iter()
        .fold(name.to_string(), |name, (pattern, replacement)| {
            pattern
                .replace_all(&name, replacement.as_str())
                .into_owned()
        })
}
