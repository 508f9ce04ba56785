"""Keras models: the classifier and the cuDNN report (seq2seq lives in textlstm.seq2seq)."""

from textlstm.models.classifier import (FusedAccuracy, build_classifier, build_nbsvm, fit_late_fusion,
                                       leave_one_out_trainer, nbsvm_weights, ngram_layer)
from textlstm.models.cudnn import CudnnStatus, cudnn_report, format_report
from textlstm.models.rnn import CudnnFallbackWarning, recurrent_layer

__all__ = ["FusedAccuracy", "build_classifier", "build_nbsvm", "fit_late_fusion", "leave_one_out_trainer",
           "nbsvm_weights", "ngram_layer", "cudnn_report", "format_report", "CudnnStatus", "recurrent_layer",
           "CudnnFallbackWarning"]
