"""The optional "wide" component of the classifier: linear paths over hashed n-grams.

A path sums one learned-or-fixed weight per hashed word n-gram (and, with
`chars`, per character n-gram of each token) into logits, as in wide & deep
or fastText. Its weights start as naive Bayes log-count ratios of the
training split (Wang & Manning 2012) or as those refined by an NBSVM fit.
A `joint` path is added to the LSTM's logits while the LSTM trains; a
`late` path is fitted alone and fused with the trained network by one
weight per source and a bias, fitted on the validation split (stacking).

- `textlstm.wide.config`: `WideConfig`, one path's typed settings (no TensorFlow).
- `textlstm.wide.ngrams`: naive Bayes counts and ratios, the character n-gram table.
- `textlstm.wide.component`: `WideComponent`, which prepares the paths on the
  training examples, adds them to a network and fits the late fusion.

Nothing outside this package needs to know what NBSVM is.
"""
