mod kube_double;
mod kube_double_tests;
