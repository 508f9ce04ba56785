"""Multi-label text classification (`task: multilabel`): any number of labels per text.

One sigmoid output per label, binary cross-entropy on multi-hot targets, a
decision threshold per label (0.5, or tuned on the validation split) and
micro/macro F1, subset accuracy and Hamming loss. The runner is
`textlstm.multilabel.classifier.MultiLabelClassifier`.
"""
