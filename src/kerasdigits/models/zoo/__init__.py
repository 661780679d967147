"""The built-in model zoo: importing this package registers every built-in model.

Each model declares its parameter count at registration (:attr:`ModelSpec.params
<kerasdigits.models.ModelSpec.params>`), checked against the built model by the tests:

============================  =========================================================  ========
name                          architecture                                                 params
============================  =========================================================  ========
``mlp2x512``                  784, 2 x Dense 512 relu (dropout 0.2), softmax; RMSprop     669,706
``mlp256``                    784, Dense 256, relu, Dense 10, softmax                     203,530
``mlp512``                    784, Dense 512 relu, softmax                                407,050
``sigmoid4x256``              784, 4 x Dense 256 sigmoid, softmax                         400,906
``convnet``                   2 x Conv 32 3x3, MaxPool, Dense 128, softmax                600,810
``fashion_convnet``           Conv 64 2x2, Conv 32 2x2, pooling, dropout, Dense 256       412,778
``lenet5``                    LeNet-5 for 28x28                                            61,706
``fast_convnet``              ours, tagged ``fast``: small batch-normalized convnet        40,002
``accurate_convnet``          ours, tagged ``accurate``: VGG-style, BN, translations      289,066
``accurate_fashion_convnet``  accurate_convnet, mirror images, 10 test copies            289,066
``balanced_convnet``          ours, tagged ``balanced``: space-to-depth, 4 x conv-BN      141,962
``fast_mlp``                  ours: 2x2 average pooling, 2 x Dense 256-BN-relu, softmax   120,330
============================  =========================================================  ========
"""

from __future__ import annotations

from kerasdigits.models.zoo import convnets, fast_mlp, lenet, mlp, ours

__all__ = ["convnets", "fast_mlp", "lenet", "mlp", "ours"]
