"""Unit-01 self-checks pass on correct code and fail, in strict mode, on stubs and wrong answers."""
import pytest
import torch

from utils.checks import SelfCheckFailed, unit01


@pytest.fixture(autouse=True)
def strict(monkeypatch):
    monkeypatch.setenv("LVM_STRICT_CHECKS", "1")


def pca(x, z_dim):
    mean = x.mean(0)
    evals, evecs = torch.linalg.eigh((x - mean).T @ (x - mean) / len(x))
    return evecs.flip(1)[:, :z_dim], evals.flip(0), mean


def ppca_mle(x, z_dim):
    W, lam, mu = pca(x, z_dim)
    sigma2 = lam[z_dim:].mean()
    return W * (lam[:z_dim] - sigma2).sqrt(), mu, sigma2


def ppca_posterior(x, W, mu, sigma2):
    M = W.T @ W + sigma2 * torch.eye(W.shape[1], dtype=W.dtype)
    return torch.linalg.solve(M, W.T @ (x - mu).T).T, sigma2 * torch.linalg.inv(M)


def stub(*args):
    raise NotImplementedError


def test_correct_functions_pass(capsys):
    unit01.check_pca(pca)
    unit01.check_ppca_mle(ppca_mle)
    unit01.check_ppca_posterior(ppca_posterior)
    assert "\u2717" not in capsys.readouterr().out


@pytest.mark.parametrize("check", [unit01.check_pca, unit01.check_ppca_mle, unit01.check_ppca_posterior])
def test_stub_fails_with_not_implemented_message(check, capsys):
    with pytest.raises(SelfCheckFailed):
        check(stub)
    assert "not implemented yet" in capsys.readouterr().out


def test_pca_keeping_smallest_variance_directions_fails(capsys):
    def smallest(x, z_dim):
        mean = x.mean(0)
        evals, evecs = torch.linalg.eigh((x - mean).T @ (x - mean) / len(x))
        return evecs[:, :z_dim], evals.flip(0), mean
    with pytest.raises(SelfCheckFailed):
        unit01.check_pca(smallest)
    assert "LARGEST variance" in capsys.readouterr().out


def test_pca_on_uncentred_data_fails(capsys):
    def uncentred(x, z_dim):
        evals, evecs = torch.linalg.eigh(x.T @ x / len(x))
        return evecs.flip(1)[:, :z_dim], evals.flip(0), x.mean(0)
    with pytest.raises(SelfCheckFailed):
        unit01.check_pca(uncentred)
    assert "centred" in capsys.readouterr().out


def test_posterior_covariance_written_m_over_sigma2_fails(capsys):
    def wrong(x, W, mu, sigma2):
        z_loc, _ = ppca_posterior(x, W, mu, sigma2)
        M = W.T @ W + sigma2 * torch.eye(W.shape[1], dtype=W.dtype)
        return z_loc, M / sigma2
    with pytest.raises(SelfCheckFailed):
        unit01.check_ppca_posterior(wrong)
    assert "not M σ⁻²" in capsys.readouterr().out


def test_posterior_with_wrong_shape_names_expected_and_actual(capsys):
    def transposed(x, W, mu, sigma2):
        z_loc, z_cov = ppca_posterior(x, W, mu, sigma2)
        return z_loc.T, z_cov
    with pytest.raises(SelfCheckFailed):
        unit01.check_ppca_posterior(transposed)
    assert "expected shape (8, 2), got (2, 8)" in capsys.readouterr().out


def test_ppca_hint_names_the_square_root_in_course_symbols(capsys):
    def wrong(x, z_dim):
        W, lam, mu = pca(x, z_dim)
        sigma2 = lam[z_dim:].mean()
        return W * (lam[:z_dim] - sigma2), mu, sigma2
    with pytest.raises(SelfCheckFailed):
        unit01.check_ppca_mle(wrong)
    assert "sqrt(λ_i − σ²)" in capsys.readouterr().out


def test_every_message_is_one_line(capsys, monkeypatch):
    monkeypatch.delenv("LVM_STRICT_CHECKS")
    for check, fn in [(unit01.check_pca, stub), (unit01.check_pca, pca),
                      (unit01.check_ppca_mle, lambda x, z_dim: ppca_mle(x, z_dim + 1)),
                      (unit01.check_ppca_posterior, lambda *args: (None, None))]:
        check(fn)
    lines = capsys.readouterr().out.splitlines()
    assert lines and all(line[0] in "\u2713\u2717" for line in lines), lines


@pytest.mark.parametrize("returned", [None, (1.0, 2.0), (None, None, None)])
@pytest.mark.parametrize("check", [unit01.check_pca, unit01.check_ppca_mle, unit01.check_ppca_posterior])
def test_a_wrong_return_value_is_one_cross_not_an_exception(check, returned, capsys):
    with pytest.raises(SelfCheckFailed):
        check(lambda *args: returned)
    out = capsys.readouterr().out
    assert out.count("\u2717") == 1 and "Hint: " in out
