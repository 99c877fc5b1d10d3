package handlers

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"

	"github.com/gin-gonic/gin"

	"apisec/app/accounts"
)

// Auth serves /auth/*.
type Auth struct {
	Accounts *accounts.Service // returns mailed tokens only where config.ExposesTokens says so
}

type credentials struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

type login struct {
	Email       string `json:"email"`
	Password    string `json:"password"`
	DeviceToken string `json:"deviceToken"`
}

type tokenPair struct {
	AccessToken  string `json:"accessToken"`
	RefreshToken string `json:"refreshToken"`
	TokenType    string `json:"tokenType"`
	ExpiresIn    int64  `json:"expiresIn"`
	DeviceToken  string `json:"deviceToken,omitempty"` // logins only
}

func pairJSON(p accounts.TokenPair) tokenPair {
	return tokenPair{AccessToken: p.AccessToken, RefreshToken: p.RefreshToken, TokenType: "Bearer",
		ExpiresIn: p.ExpiresIn, DeviceToken: p.DeviceToken}
}

// Register handles POST /auth/register.
func (h *Auth) Register(c *gin.Context) (int, any, error) {
	var in credentials
	if err := bindJSON(c, &in); err != nil {
		return 0, nil, err
	}
	u, token, err := h.Accounts.Register(c.Request.Context(), in.Email, in.Password)
	if err != nil {
		return 0, nil, err
	}
	out := gin.H{"user": userJSON(u)}
	if token != "" { // only when the service exposes tokens
		out["verificationToken"] = token
	}
	return http.StatusCreated, out, nil
}

// Verify handles GET /auth/verify?token=T. HEAD answers the same status
// without spending the token.
func (h *Auth) Verify(c *gin.Context) (int, any, error) {
	verify := h.Accounts.Verify
	if c.Request.Method == http.MethodHead {
		verify = h.Accounts.CheckVerification
	}
	if err := verify(c.Request.Context(), c.Query("token")); err != nil {
		return 0, nil, err
	}
	return http.StatusOK, gin.H{"message": "Email verified"}, nil
}

type emailOnly struct {
	Email string `json:"email"`
}

// ResendVerification handles POST /auth/verify/resend; the answer is the
// same whether or not the address exists.
func (h *Auth) ResendVerification(c *gin.Context) (int, any, error) {
	var in emailOnly
	if err := bindJSON(c, &in); err != nil {
		return 0, nil, err
	}
	if _, err := h.Accounts.ResendVerification(c.Request.Context(), in.Email); err != nil {
		return 0, nil, err
	}
	return http.StatusAccepted, gin.H{"message": "If the address is registered and unverified, a verification e-mail is on its way"}, nil
}

// Login handles POST /auth/login.
func (h *Auth) Login(c *gin.Context) (int, any, error) {
	var in login
	if err := bindJSON(c, &in); err != nil {
		return 0, nil, err
	}
	pair, err := h.Accounts.Login(c.Request.Context(), in.Email, in.Password)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, pairJSON(pair), nil
}

type refreshBody struct {
	RefreshToken string `json:"refreshToken"`
}

// LoginAccount is the account limiter's view of a login: the address and
// device token of its body, read ahead of Login and left for it to read
// again. A body that does not decode names no account; Login answers it.
func (h *Auth) LoginAccount(c *gin.Context) (string, string, error) {
	body, err := io.ReadAll(c.Request.Body)
	c.Request.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body), errReader{err}))
	var in login
	if err != nil || json.Unmarshal(body, &in) != nil {
		return "", "", nil
	}
	return h.Accounts.AccountKey(c.Request.Context(), in.Email, in.DeviceToken)
}

// CallerAccount is the account limiter's view of a signed-in password check.
func (h *Auth) CallerAccount(c *gin.Context) (string, string, error) {
	id, err := caller(c)
	if err != nil {
		return "", "", err
	}
	return h.Accounts.AccountOf(c.Request.Context(), id)
}

// errReader replays a read error (a body over the limit) after the bytes
// read before it; a nil error is the end of the body.
type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) {
	if r.err == nil {
		return 0, io.EOF
	}
	return 0, r.err
}

// Refresh handles POST /auth/refresh.
func (h *Auth) Refresh(c *gin.Context) (int, any, error) {
	var in refreshBody
	if err := bindJSON(c, &in); err != nil {
		return 0, nil, err
	}
	pair, err := h.Accounts.Refresh(c.Request.Context(), in.RefreshToken)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, pairJSON(pair), nil
}

// Logout handles POST /auth/logout: the presented token's session ends.
func (h *Auth) Logout(c *gin.Context) (int, any, error) {
	var in refreshBody
	if err := bindJSON(c, &in); err != nil {
		return 0, nil, err
	}
	if err := h.Accounts.Logout(c.Request.Context(), in.RefreshToken); err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, nil
}

// LogoutAll handles POST /auth/logout-all.
func (h *Auth) LogoutAll(c *gin.Context) (int, any, error) {
	id, err := caller(c)
	if err != nil {
		return 0, nil, err
	}
	if err := h.Accounts.LogoutAll(c.Request.Context(), id); err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, nil
}

// Me handles GET /auth/me.
func (h *Auth) Me(c *gin.Context) (int, any, error) {
	id, err := caller(c)
	if err != nil {
		return 0, nil, err
	}
	u, err := h.Accounts.User(c.Request.Context(), id)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, gin.H{"user": userJSON(u)}, nil
}
