var builder = WebApplication.CreateBuilder(args);
builder.AddCremaDEvaluationService();
var app = builder.Build();
app.MapDefaultEndpoints();
app.Run();
